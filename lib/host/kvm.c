/* Whether this process can really run a KVM guest: /dev/kvm can open and still fail at KVM_RUN. */
#include "vfioctl/kvm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"

static void on_alarm(int sig)
{
}

/*
 * Can this process run a KVM guest? /dev/kvm may open and create VMs yet fail at KVM_RUN (nested or
 * restricted hosts): run one `hlt` in real mode (Documentation/virt/kvm/api.rst, KVM_RUN, KVM_EXIT_HLT).
 */
bool vfio_kvm_usable(void)
{
        _cleanup_close_ int kvm = -1, vm = -1, vcpu = -1;
        struct kvm_userspace_memory_region region = {};
        struct kvm_sregs sregs;
        struct kvm_regs regs = { .rip = 0, .rflags = 2 };
        struct kvm_run *run;
        struct sigaction sa = { .sa_handler = on_alarm }, old;
        void *mem;
        int mmap_size, r;

        kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != 12)
                return false;
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
                return false;
        mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
                return false;
        ((unsigned char *)mem)[0] = 0xf4; /* hlt */
        region = (struct kvm_userspace_memory_region){
                .slot = 0, .guest_phys_addr = 0, .memory_size = 4096, .userspace_addr = (unsigned long)mem
        };
        r = -1;
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) == 0 &&
            (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) >= 0 &&
            (mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) > 0 &&
            ioctl(vcpu, KVM_GET_SREGS, &sregs) == 0) {
                run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
                if (run != MAP_FAILED) {
                        sregs.cs.base = 0;
                        sregs.cs.selector = 0;
                        if (ioctl(vcpu, KVM_SET_SREGS, &sregs) == 0 &&
                            ioctl(vcpu, KVM_SET_REGS, &regs) == 0) {
                                sigaction(SIGALRM, &sa, &old);
                                alarm(2);
                                r = ioctl(vcpu, KVM_RUN, 0);
                                alarm(0);
                                sigaction(SIGALRM, &old, NULL);
                                if (r == 0 && run->exit_reason != KVM_EXIT_HLT)
                                        r = -1;
                        }
                        munmap(run, (size_t)mmap_size);
                }
        }
        munmap(mem, 4096);
        return r == 0;
}
