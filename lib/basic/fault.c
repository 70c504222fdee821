/* Fault injection for the crash tests: a counter of file-changing steps and a SIGKILL at the armed one. */
#include "fault.h"

#include <signal.h>

static unsigned kill_at, steps;

void fault_set_kill_at(unsigned n)
{
        kill_at = n;
        steps = 0;
}

void fault_point(void)
{
        if (kill_at && ++steps == kill_at)
                (void)raise(SIGKILL);
}
