/* vfioctl qmp NAME '{"execute": ...}': one raw QMP command on the VM's control monitor, for power users. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "tool.h"
#include "vfioctl/control.h"
#include "vfioctl/vmrun.h"

int verb_qmp(int argc, char **argv)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        json_object *cmd, *exec = NULL, *args = NULL, *reply = NULL;
        int e, ret = EXIT_FAILURE_GENERIC;

        if (tool_check_arity(argc - 1) < 0)
                return EXIT_USAGE;
        cmd = json_tokener_parse(argv[2]);
        if (!cmd || !json_object_object_get_ex(cmd, "execute", &exec) ||
            !json_object_is_type(exec, json_type_string)) {
                tool_error(
                        "qmp: '%s' is not a QMP command; expected {\"execute\": \"query-status\"} with optional \"arguments\": {...} (QEMU's QMP reference lists commands)",
                        argv[2]);
                json_object_put(cmd);
                return EXIT_USAGE;
        }
        json_object_object_get_ex(cmd, "arguments", &args);
        if (!tool_vm_name(argv[1])) {
                json_object_put(cmd);
                return EXIT_USAGE;
        }
        if (vm_run_open(arg_root, argv[1], false, &r, &err) < 0 || vm_run_load(r, &s) < 0 ||
            !vm_run_alive(r, s)) {
                if (r)
                        tool_error("VM '%s' is not running; start it with: vfioctl start %s", argv[1],
                                   argv[1]);
                else if (err)
                        tool_error("%s", err);
                ret = EXIT_NOT_RUNNING;
                goto out;
        }
        e = vm_control_qmp(r, json_object_get_string(exec), args, &reply, &err);
        if (e == -EREMOTEIO) {
                tool_error("QMP %s: %s", json_object_get_string(exec), err ? err : "error");
                goto out;
        }
        if (e < 0) {
                if (err)
                        tool_error("%s", err);
                else
                        tool_error("QMP %s: %s", json_object_get_string(exec), strerror(-e));
                goto out;
        }
        printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
        ret = EXIT_OK;
out:
        json_object_put(reply);
        json_object_put(cmd);
        return ret;
}
