/* Fault injection for tests: die by SIGKILL at the Nth step that changes a file, as a crash there would. */
#include "fault.h"

#include <signal.h>

static unsigned kill_at, steps;

void fault_set_kill_at(unsigned step)
{
        kill_at = step;
        steps = 0;
}

void fault_point(void)
{
        if (kill_at && ++steps == kill_at)
                (void)raise(SIGKILL);
}
