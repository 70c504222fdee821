/* Fault injection for the crash tests (tests/fault/): die by SIGKILL at the Nth file-changing step. */
#pragma once

/* Arms the kill at step n (1-based); 0 disarms. Set from VFIOCTL_TEST_KILL_AT_STEP by the tool only. */
void fault_set_kill_at(unsigned n);
/* One file-changing step: the process is SIGKILLed here when it is the armed one. */
void fault_point(void);
