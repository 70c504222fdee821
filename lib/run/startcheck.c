/* What start as root at boot would refuse, found before `enable` links the unit, not after a reboot. */
#include "vfioctl/startcheck.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "strv.h"
#include "vfioctl/account.h"
#include "vfioctl/hostfile.h"
#include "vfioctl/perm.h"
#include "vfioctl/vmconf.h"
#include "vfioctl/vmpaths.h"

#define ERR VFIO_PROBLEM_ERROR

int vm_start_check_boot(const vfio_host *h, const char *name, vfio_problems *problems)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_(vfio_account_freep) vfio_account *acct = NULL;
        _cleanup_(vfio_perm_issue_freep) vfio_perm_issue *issue = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *rel = NULL, *abs = NULL, *text = NULL, *elsewhere = NULL, *err = NULL;
        int r;

        assert(h);
        assert(problems);
        if (!vm_name_valid(name))
                return -EINVAL;
        if (asprintf(&rel, VM_SYSTEM_CONFIG_DIR "/%s.conf", name) < 0 || asprintf(&abs, "/%s", rel) < 0)
                return -ENOMEM;
        r = vfio_hostfile_read(h, rel, VM_CONFIG_MAX_SIZE, &text, NULL);
        if (r == -ENOENT || r == -ENOTDIR) {
                /* The unit runs as root with no home: a user's config is not where it looks. */
                if (vfio_host_is_live(h) && vm_find_config(name, &elsewhere, &err) >= 0 &&
                    strcmp(elsewhere, abs) != 0) {
                        r = vfio_problems_add(
                                problems, ERR,
                                "%s is in %s, but at boot root starts VMs from %s (vfioctl@%s.service runs vfioctl start %s as root, with no home)",
                                name, elsewhere, abs, name, name);
                        if (r >= 0)
                                r = vfio_problems_fix(
                                        problems,
                                        "run: sudo install -D -o root -g root -m 0644 %s %s, and check it has [vm] user",
                                        elsewhere, abs);
                } else
                        r = vfio_problems_add(
                                problems, ERR,
                                "no VM %s in %s: at boot root starts VMs from there (vfioctl create %s --output %s, as root)",
                                name, abs, name, abs);
                return r == -ENOMEM ? r : 0;
        }
        if (r < 0)
                return vfio_problems_add(problems, ERR, "%s: %s", abs, strerror(-r)) == -ENOMEM ? -ENOMEM
                                                                                                : 0;
        r = vm_config_parse_string(text, abs, name, &c, &errors);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                (void)vm_config_check(c, &errors);
        if (strv_length(errors) > 0) {
                r = vfio_problems_add_strv(problems, ERR, errors);
                if (r >= 0)
                        r = vfio_problems_fix(problems,
                                              "fix the configuration (vfioctl validate %s names each error)",
                                              abs);
                return r == -ENOMEM ? r : 0;
        }
        /* Root never runs QEMU as root: the VM needs its user, one that exists where it will start. */
        if (!c->vm.user) {
                r = vfio_problems_add(
                        problems, ERR,
                        "%s: [vm] user is not set: root starts QEMU only as that user, so the VM would not start at boot",
                        abs);
                if (r >= 0)
                        r = vfio_problems_fix(
                                problems,
                                "add to the [vm] section of %s: user = NAME (a system user in group kvm; vfioctl guide makes one)",
                                abs);
                return r == -ENOMEM ? r : 0;
        }
        r = vfio_account_lookup(h, c->vm.user, &acct);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || acct->uid == 0) {
                r = vfio_problems_add(problems, ERR, "%s: [vm] user %s %s: start refuses it", abs,
                                      c->vm.user, r < 0 ? "does not exist" : "is root");
                if (r >= 0)
                        r = vfio_problems_fix(
                                problems,
                                "create the user (useradd --system --no-create-home --shell /usr/sbin/nologin --groups kvm NAME) and name it in [vm] user");
                return r == -ENOMEM ? r : 0;
        }
        /* What root reads at boot must be root's all the way down, or the VM user could change it. */
        r = vfio_perm_check_path(h, abs, acct, 0, &issue);
        if (r == 1) {
                r = vfio_problems_add(
                        problems, ERR,
                        "%s: %s is %s (uid %u, gid %u, mode %04o): user %s (or another) could change what root reads to start the VM",
                        abs, issue->path, vfio_perm_reason_to_string(issue->reason), issue->uid, issue->gid,
                        issue->mode, acct->name);
                if (r >= 0)
                        r = vfio_problems_fix(problems, "run: %s", issue->fix);
        } else if (r < 0 && r != -ENOMEM)
                r = vfio_problems_add(problems, ERR, "%s: cannot check its ownership: %s", abs,
                                      strerror(-r));
        return r == -ENOMEM ? r : 0;
}
