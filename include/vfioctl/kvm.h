/* Whether this process can really run a KVM guest: /dev/kvm can open and still fail at KVM_RUN. */
#pragma once

#include <stdbool.h>

/*
 * Runs one `hlt` in real mode in a throw-away VM (Documentation/virt/kvm/api.rst, KVM_RUN, KVM_EXIT_HLT),
 * bounded by a 2 s alarm: nested or restricted hosts open /dev/kvm and create VMs yet cannot run them.
 * Probes the live /dev/kvm (a process runs here, whatever root the facts are read below).
 */
bool vfio_kvm_usable(void);
