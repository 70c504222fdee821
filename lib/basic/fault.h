/* Fault injection for tests: die by SIGKILL at the Nth step that changes a file, as a crash there would. */
#pragma once

/* 0 (the default) never; the tool sets it from VFIOCTL_TEST_KILL_AT_STEP (tests/fault/). */
void fault_set_kill_at(unsigned step);
/* One file-changing step (a temp file half written, a rename, an unlink, an rmdir, a mkdir): counts it,
 * and SIGKILLs the process when it is the chosen one. */
void fault_point(void);
