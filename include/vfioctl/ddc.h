/* The monitor's input over DDC/CI (ddcutil): to the guest when the VM runs, back to the host after. */
#pragma once

/*
 * Sets VCP 0x60 ("Input Select", VESA MCCS 2.2a, 8.3.5) to code through ddcutil, bounded to 10 s: a bad
 * I2C bus must not hold the VM up. ddc is the record's "bus=N" or "display=N". On failure *ret_error
 * (optional) names the command and how it ended.
 */
int vm_ddc_switch(const char *ddc, unsigned code, char **ret_error);
