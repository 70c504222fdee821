/*
 * vfioctl completion: shell completion scripts generated from the verb table (names, synopses), and the
 * candidate lists those scripts ask for while the user types (VM names, device selectors).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/vmpaths.h"
#include "vfioctl/vmrun.h"

/*
 * Options a verb accepts that its short synopsis in the verb table leaves out (vfioctl(1) has them all;
 * tests/completion/test-completion.sh fails when this table, the synopses and the man page disagree).
 * new_name: the verb's NAME names a VM that does not exist yet, so existing names are no help.
 */
static const struct {
        const char *verb;
        const char *options;
        bool new_name;
} extra[] = {
        { "check", "--force --vm NAME", false },
        { "bind", "--function-only --timeout MS", false },
        { "unbind", "--function-only --timeout MS", false },
        { "rebind", "--function-only --timeout MS", false },
        { "setup",
          "--group G --memory SIZE --hugepages SIZE --usb VID:PID --create-user --with-group --force --vfioctl-path PATH --vm NAME",
          false },
        { "create", "", true },
        { "disk", "--size SIZE --format qcow2|raw|zvol --on DATASET --prealloc --dry-run --json", false },
        { "snapshot", "--vars PATH --running-pid PID --json", false },
        { "input", "--all --label NAME --toggle SPEC --link DIR --no-grab --user UID:GID --log-fd N",
          false },
        { "import-libvirt", "--force --verbose --connect URI", false },
        { "export-libvirt", "--force", false },
};

/* What a word can be; the scripts turn each into a candidate source. */
enum {
        K_VM = 1 << 0,     /* a VM name: configs and runtime records */
        K_FILE = 1 << 1,   /* any path */
        K_DIR = 1 << 2,    /* a directory */
        K_DEVICE = 1 << 3, /* a PCI device selector */
        K_USER = 1 << 4,
        K_GROUP = 1 << 5,
};

#define MAX_SLOTS 4
#define MAX_OPTS  32

typedef struct kind {
        unsigned mask;
        char words[128]; /* literal alternatives, space-separated */
} kind;

typedef struct spec {
        const char *name;
        char opts[MAX_OPTS][32];
        bool opt_arg[MAX_OPTS];
        kind opt_kind[MAX_OPTS];
        size_t n_opts;
        kind slot[MAX_SLOTS];
        size_t n_slots;
        bool repeat; /* the last slot takes any number of words */
} spec;

static void kind_add_word(kind *k, const char *w, size_t len)
{
        size_t have = strlen(k->words);

        if (have + len + 2 > sizeof(k->words))
                return;
        /* each word once: "create" is a subcommand in every alternative of disk */
        for (const char *p = k->words; (p = strstr(p, w)) && len; p += len)
                if ((p == k->words || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0') &&
                    strncmp(p, w, len) == 0)
                        return;
        if (have)
                k->words[have++] = ' ';
        memcpy(k->words + have, w, len);
        k->words[have + len] = '\0';
}

/* A metavariable ("NAME|FILE", "SEL|auto", "qcow2|raw|zvol") to the candidates it stands for. */
static void kind_from_metavar(kind *k, const char *mv, size_t len, const char *option, bool new_name)
{
        for (size_t i = 0; i < len;) {
                size_t j = i;
                char alt[64];

                while (j < len && mv[j] != '|')
                        j++;
                snprintf(alt, sizeof(alt), "%.*s", (int)(j - i), mv + i);
                if (alt[0] >= 'a' && alt[0] <= 'z')
                        kind_add_word(k, alt, strlen(alt));
                else if (strncmp(alt, "SEL", 3) == 0)
                        k->mask |= K_DEVICE;
                else if (strcmp(alt, "VM") == 0 ||
                         (strcmp(alt, "NAME") == 0 && (option ? strcmp(option, "--vm") == 0 : !new_name)))
                        k->mask |= K_VM;
                else if (strncmp(alt, "FILE", 4) == 0 || strcmp(alt, "PATH") == 0 ||
                         strcmp(alt, "SRC") == 0 || strcmp(alt, "DST") == 0 || strcmp(alt, "DEV") == 0)
                        k->mask |= K_FILE;
                else if (strcmp(alt, "DIR") == 0)
                        k->mask |= K_DIR;
                else if (strcmp(alt, "U") == 0 || strcmp(alt, "USER") == 0)
                        k->mask |= K_USER;
                else if (strcmp(alt, "G") == 0)
                        k->mask |= K_GROUP;
                /* SIZE, N, MS, PID, SPEC, DATASET, JSON...: a value only the user knows */
                i = j + 1;
        }
}

static void spec_add_option(spec *s, const char *opt, size_t len, const char *mv, size_t mvlen,
                            bool new_name)
{
        char name[32];

        snprintf(name, sizeof(name), "%.*s", (int)len, opt);
        for (size_t i = 0; i < s->n_opts; i++)
                if (strcmp(s->opts[i], name) == 0)
                        return;
        if (s->n_opts == MAX_OPTS)
                return;
        strcpy(s->opts[s->n_opts], name);
        s->opt_arg[s->n_opts] = mv != NULL;
        if (mv)
                kind_from_metavar(&s->opt_kind[s->n_opts], mv, mvlen, name, new_name);
        s->n_opts++;
}

/*
 * Reads a synopsis the way vfioctl(1) writes one: "[--opt VALUE]" takes a value, "[--flag]" does not,
 * bare upper-case words are positional arguments, "X..." repeats, " | " separates alternative forms
 * (disk create ... | import ... | info ...), quoted words are examples.
 */
static void spec_parse(spec *s, const char *text, bool positional, bool new_name)
{
        const char *p = text;
        size_t slot = 0, optional = SIZE_MAX;
        bool first = positional;

        while (*p) {
                const char *t, *e;
                size_t len;
                bool opens = false, closes, repeats;

                while (*p == ' ' || *p == '[')
                        opens |= *p++ == '[';
                if (!*p)
                        break;
                t = p;
                if (*p == '\'') { /* an example JSON: one opaque positional word */
                        e = strchr(p + 1, '\'');
                        p = e ? e + 1 : p + strlen(p);
                } else
                        while (*p && *p != ' ')
                                p++;
                e = p;
                closes = e > t && e[-1] == ']';
                while (e > t && e[-1] == ']')
                        e--;
                repeats = e - t > 3 && strncmp(e - 3, "...", 3) == 0;
                if (repeats)
                        e -= 3;
                len = (size_t)(e - t);
                if (first) { /* the verb's own name */
                        first = false;
                        continue;
                }
                if (len == 1 && *t == '|') { /* another form of the verb: its words count from the start */
                        slot = 0;
                        continue;
                }
                if (*t == '-') {
                        const char *v = p, *ve;

                        while (*v == ' ')
                                v++;
                        if (!closes && *v && *v != '-' && *v != '[' && !(*v == '|' && v[1] == ' ')) {
                                ve = v;
                                while (*ve && *ve != ' ')
                                        ve++;
                                p = ve;
                                while (ve > v && ve[-1] == ']')
                                        ve--;
                                if (ve - v > 3 && strncmp(ve - 3, "...", 3) == 0)
                                        ve -= 3;
                                spec_add_option(s, t, len, v, (size_t)(ve - v), new_name);
                        } else
                                spec_add_option(s, t, len, NULL, 0, new_name);
                        continue;
                }
                if (!positional || slot >= MAX_SLOTS)
                        continue;
                if (*t != '\'') {
                        kind_from_metavar(&s->slot[slot], t, len, NULL, new_name);
                        /* "[VM] create|list...": where the optional word may stand, so may the next */
                        if (optional < slot)
                                kind_from_metavar(&s->slot[optional], t, len, NULL, new_name);
                }
                optional = opens && closes ? slot : SIZE_MAX;
                slot++;
                if (slot > s->n_slots)
                        s->n_slots = slot;
                if (repeats)
                        s->repeat = true;
        }
}

static void spec_of(const verb *v, spec *ret)
{
        bool new_name = false;

        *ret = (spec){ .name = v->name };
        for (size_t i = 0; i < ELEMENTSOF(extra); i++)
                if (strcmp(extra[i].verb, v->name) == 0)
                        new_name = extra[i].new_name;
        spec_parse(ret, v->synopsis, true, new_name);
        for (size_t i = 0; i < ELEMENTSOF(extra); i++)
                if (strcmp(extra[i].verb, v->name) == 0)
                        spec_parse(ret, extra[i].options, false, new_name);
}

/* A kind as the scripts' word: "vm file", "device w:auto", "" for free text; sep between the parts. */
static void kind_print_sep(FILE *f, const kind *k, char sep)
{
        static const char *const names[] = { "vm", "file", "dir", "device", "user", "group" };
        bool sp = false;

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (k->mask & (1u << i)) {
                        fprintf(f, "%s%s", sp ? (char[]){ sep, 0 } : "", names[i]);
                        sp = true;
                }
        if (k->words[0]) {
                fprintf(f, "%sw:", sp ? (char[]){ sep, 0 } : "");
                for (const char *c = k->words; *c; c++)
                        fputc(*c == ' ' ? ',' : *c, f);
        }
}

static void kind_print(FILE *f, const kind *k)
{
        kind_print_sep(f, k, ' ');
}

static const char bash_main[] =
        "# The words before the cursor, split at blanks only: COMP_WORDS would split 0000:01:00.0 at each colon.\n"
        "_vfioctl() {\n"
        "    local line=${COMP_LINE:0:COMP_POINT} cur='' verb='' want='' i x n=0 kind\n"
        "    local -a w=() root=() opts=() slots=() argopts=()\n"
        "    local repeat=0\n"
        "    read -r -a w <<< \"$line\"\n"
        "    if [[ -n $line && $line != *[[:space:]] ]]; then cur=${w[${#w[@]}-1]}; unset 'w[${#w[@]}-1]'; fi\n"
        "    for ((i = 1; i < ${#w[@]}; i++)); do\n"
        "        x=${w[i]}\n"
        "        if [[ -z $verb ]]; then\n"
        "            case $x in\n"
        "                --root) if ((i + 1 < ${#w[@]})); then root=(--root \"${w[i+1]}\"); ((i++)); else want=dir; fi ;;\n"
        "                --color) if ((i + 1 < ${#w[@]})); then ((i++)); else want=w:auto,always,never; fi ;;\n"
        "                -*) ;;\n"
        "                *) verb=$x; _vfioctl_spec \"$verb\" || return 0 ;;\n"
        "            esac\n"
        "        elif [[ $x == -* ]]; then\n"
        "            kind=$(_vfioctl_argkind \"$x\") || continue\n"
        "            if ((i + 1 < ${#w[@]})); then ((i++)); else want=${kind:--}; fi\n"
        "        else\n"
        "            ((n++))\n"
        "        fi\n"
        "    done\n"
        "    COMPREPLY=()\n"
        "    if [[ -n $want ]]; then\n"
        "        _vfioctl_add \"$want\"\n"
        "    elif [[ -z $verb ]]; then\n"
        "        if [[ $cur == -* ]]; then _vfioctl_add w:--root,--json,--color,--debug,--help,--version\n"
        "        else _vfioctl_add \"w:$_vfioctl_verbs\"; fi\n"
        "    elif [[ $cur == -* ]]; then\n"
        "        local o list=--help\n"
        "        for o in \"${opts[@]}\"; do list+=,$o; done\n"
        "        _vfioctl_add \"w:$list\"\n"
        "    elif ((n < ${#slots[@]})); then\n"
        "        _vfioctl_add \"${slots[n]}\"\n"
        "    elif ((repeat && ${#slots[@]})); then\n"
        "        _vfioctl_add \"${slots[${#slots[@]}-1]}\"\n"
        "    fi\n"
        "    # bash replaces only the text after the last colon: hand back that part of each candidate.\n"
        "    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then\n"
        "        local colon=${cur%\"${cur##*:}\"}\n"
        "        for i in \"${!COMPREPLY[@]}\"; do COMPREPLY[i]=${COMPREPLY[i]#\"$colon\"}; done\n"
        "    fi\n"
        "    return 0\n"
        "}\n"
        "\n"
        "# The value kind of an option of the current verb (empty: free text); fails for a flag.\n"
        "_vfioctl_argkind() {\n"
        "    local a\n"
        "    [[ $1 == *=* ]] && return 1\n"
        "    for a in \"${argopts[@]}\"; do\n"
        "        if [[ ${a%%=*} == \"$1\" ]]; then printf '%s' \"${a#*=}\"; return 0; fi\n"
        "    done\n"
        "    return 1\n"
        "}\n"
        "\n"
        "# Adds the candidates of one kind (\"vm file\", \"device w:auto\") that start with $cur.\n"
        "_vfioctl_add() {\n"
        "    local k line\n"
        "    local -a got=()\n"
        "    for k in $1; do\n"
        "        case $k in\n"
        "            vm) mapfile -t got < <(\"${w[0]}\" \"${root[@]}\" completion list vms 2>/dev/null)\n"
        "                COMPREPLY+=($(compgen -W \"${got[*]}\" -- \"$cur\")) ;;\n"
        "            device) got=()\n"
        "                while IFS=$'\\t' read -r a ids _; do got+=(\"$a\" \"$ids\"); done \\\n"
        "                    < <(\"${w[0]}\" \"${root[@]}\" completion list devices 2>/dev/null)\n"
        /* two identical cards share their IDs: offer each once */
        "                mapfile -t got < <(printf '%s\\n' \"${got[@]}\" | sort -u)\n"
        "                COMPREPLY+=($(compgen -W \"${got[*]}\" -- \"$cur\")) ;;\n"
        /* NAME|FILE: the names, and paths once the word looks like one (has a slash) */
        "            file) [[ \" $1 \" == *\" vm \"* && $cur != */* ]] && continue\n"
        "                compopt -o filenames 2>/dev/null; mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -f -- \"$cur\") ;;\n"
        "            dir) compopt -o filenames 2>/dev/null; mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -d -- \"$cur\") ;;\n"
        "            user) COMPREPLY+=($(compgen -u -- \"$cur\")) ;;\n"
        "            group) COMPREPLY+=($(compgen -g -- \"$cur\")) ;;\n"
        "            w:*) local IFS=$' \\t\\n,'; COMPREPLY+=($(compgen -W \"${k#w:}\" -- \"$cur\")) ;;\n"
        "        esac\n"
        "    done\n"
        "}\n"
        "\n"
        "complete -F _vfioctl vfioctl\n";

static int print_bash(const verb *verbs, size_t n)
{
        printf("# bash completion for vfioctl %s: generated by 'vfioctl completion bash' from its verb table.\n"
               "# Install: vfioctl completion bash > /usr/share/bash-completion/completions/vfioctl\n\n",
               VFIOCTL_VERSION);
        printf("_vfioctl_verbs=");
        for (size_t i = 0; i < n; i++)
                printf("%s%s", i ? "," : "", verbs[i].name);
        printf("\n\n# Per verb: its options (opts), those that take a value with the value's kind (argopts), the\n"
               "# kind of each positional argument (slots), and whether the last one repeats.\n"
               "_vfioctl_spec() {\n    case $1 in\n");
        for (size_t i = 0; i < n; i++) {
                spec s;

                spec_of(&verbs[i], &s);
                printf("        %s)\n            opts=(", s.name);
                for (size_t o = 0; o < s.n_opts; o++)
                        printf("%s%s", o ? " " : "", s.opts[o]);
                printf(")\n            argopts=(");
                for (size_t o = 0, sp = 0; o < s.n_opts; o++)
                        if (s.opt_arg[o]) {
                                printf("%s'%s=", sp++ ? " " : "", s.opts[o]);
                                kind_print(stdout, &s.opt_kind[o]);
                                putchar('\'');
                        }
                printf(")\n            slots=(");
                for (size_t k = 0; k < s.n_slots; k++) {
                        printf("%s'", k ? " " : "");
                        kind_print(stdout, &s.slot[k]);
                        putchar('\'');
                }
                printf(")\n            repeat=%d ;;\n", s.repeat);
        }
        printf("        *) return 1 ;;\n    esac\n}\n\n%s", bash_main);
        return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_FAILURE_GENERIC;
}

static const char zsh_main[] =
        "_vfioctl() {\n"
        "    local -a root\n"
        "    local verb='' want='' kind x i n=0\n"
        "    for ((i = 2; i < CURRENT; i++)); do\n"
        "        x=${words[i]}\n"
        "        if [[ -z $verb ]]; then\n"
        "            case $x in\n"
        "                --root) if ((i + 1 < CURRENT)); then root=(--root ${words[i+1]}); ((i++)); else want=dir; fi ;;\n"
        "                --color) if ((i + 1 < CURRENT)); then ((i++)); else want=w:auto,always,never; fi ;;\n"
        "                -*) ;;\n"
        "                *) verb=$x; (( $+_vfioctl_opts[$verb] )) || return 1 ;;\n"
        "            esac\n"
        "        elif [[ $x == -* ]]; then\n"
        "            kind=${${(M)${(s: :)_vfioctl_argopts[$verb]}:#$x=*}#*=}\n"
        "            [[ -n ${(M)${(s: :)_vfioctl_argopts[$verb]}:#$x=*} ]] || continue\n"
        "            if ((i + 1 < CURRENT)); then ((i++)); else want=${kind:--}; fi\n"
        "        else\n"
        "            ((n++))\n"
        "        fi\n"
        "    done\n"
        "    local -a slots=(${(s:;:)_vfioctl_slots[$verb]})\n"
        "    if [[ -n $want ]]; then\n"
        "        _vfioctl_add $want\n"
        "    elif [[ -z $verb ]]; then\n"
        "        if [[ ${words[CURRENT]} == -* ]]; then compadd -- --root --json --color --debug --help --version\n"
        "        else _describe -t verbs 'vfioctl verb' _vfioctl_verbs; fi\n"
        "    elif [[ ${words[CURRENT]} == -* ]]; then\n"
        "        compadd -- ${(s: :)_vfioctl_opts[$verb]} --help\n"
        "    elif ((n < ${#slots})); then\n"
        "        _vfioctl_add ${slots[n+1]}\n"
        "    elif ((_vfioctl_repeat[$verb] && ${#slots})); then\n"
        "        _vfioctl_add ${slots[-1]}\n"
        "    fi\n"
        "}\n"
        "\n"
        "# Adds the candidates of each kind named (vm, device, file, dir, user, group, w:WORD,WORD).\n"
        "_vfioctl_add() {\n"
        "    local k line\n"
        "    local -a got disp parts\n"
        "    for k in ${(s: :)${*//+/ }}; do\n"
        "        case $k in\n"
        "            vm) compadd -- ${(f)\"$(${words[1]} $root completion list vms 2>/dev/null)\"} ;;\n"
        "            device) got=(); disp=()\n"
        "                for line in ${(f)\"$(${words[1]} $root completion list devices 2>/dev/null)\"}; do\n"
        "                    parts=(\"${(@ps:\\t:)line}\")\n"
        "                    got+=($parts[1]); disp+=(\"$parts[1]  $parts[3]\")\n"
        "                    if (( ! ${got[(Ie)$parts[2]]} )); then got+=($parts[2]); disp+=(\"$parts[2]  $parts[3]\"); fi\n"
        "                done\n"
        "                compadd -l -d disp -a got ;;\n"
        /* NAME|FILE: the names, and paths once the word looks like one (has a slash) */
        "            file) [[ \" $* \" == *\" vm \"* && ${words[CURRENT]} != */* ]] || _files ;;\n"
        "            dir) _files -/ ;;\n"
        "            user) _users ;;\n"
        "            group) _groups ;;\n"
        "            w:*) compadd -- ${(s:,:)k#w:} ;;\n"
        "        esac\n"
        "    done\n"
        "}\n"
        "\n"
        "_vfioctl \"$@\"\n";

/* zsh: the same spec as the bash script, with each verb described in the menu and devices named. */
static int print_zsh(const verb *verbs, size_t n)
{
        printf("#compdef vfioctl\n"
               "# zsh completion for vfioctl %s: generated by 'vfioctl completion zsh' from its verb table.\n\n",
               VFIOCTL_VERSION);
        printf("_vfioctl_verbs=(\n");
        for (size_t i = 0; i < n; i++) {
                /* _describe takes "name:description": a colon in the text is escaped, a quote closes and
                 * reopens the single-quoted word. */
                printf("    '%s:", verbs[i].name);
                for (const char *c = verbs[i].help; *c; c++)
                        if (*c == '\'')
                                fputs("'\\''", stdout);
                        else if (*c == ':')
                                fputs("\\:", stdout);
                        else
                                putchar(*c);
                printf("'\n");
        }
        printf(")\n\n# Per verb: options; options with a value (OPTION=KIND); argument kinds (;-separated); repeat.\n"
               "typeset -gA _vfioctl_opts _vfioctl_argopts _vfioctl_slots _vfioctl_repeat\n");
        for (size_t i = 0; i < n; i++) {
                spec sp;

                spec_of(&verbs[i], &sp);
                printf("_vfioctl_opts[%s]='", sp.name);
                for (size_t o = 0; o < sp.n_opts; o++)
                        printf("%s%s", o ? " " : "", sp.opts[o]);
                printf("'\n_vfioctl_argopts[%s]='", sp.name);
                for (size_t o = 0, k = 0; o < sp.n_opts; o++)
                        if (sp.opt_arg[o]) {
                                /* one word per option: the kind's own blanks become '+' */
                                printf("%s%s=", k++ ? " " : "", sp.opts[o]);
                                kind_print_sep(stdout, &sp.opt_kind[o], '+');
                        }
                printf("'\n_vfioctl_slots[%s]='", sp.name);
                for (size_t k = 0; k < sp.n_slots; k++) {
                        if (k)
                                putchar(';');
                        kind_print_sep(stdout, &sp.slot[k], ' ');
                }
                printf("'\n_vfioctl_repeat[%s]=%d\n", sp.name, sp.repeat);
        }
        printf("\n%s", zsh_main);
        return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_FAILURE_GENERIC;
}

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

/* Entries of dir named NAME+suffix (configs), or directories holding a status file (runtime records:
 * /run/vfioctl also holds bind/, which is no VM). */
static int list_dir_names(const char *dir, const char *suffix, char ***names)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *name = strdup(de->d_name);
                size_t len;

                if (!name)
                        return -ENOMEM;
                len = strlen(name);
                if (suffix) {
                        if (len <= strlen(suffix) || strcmp(name + len - strlen(suffix), suffix) != 0)
                                continue;
                        name[len - strlen(suffix)] = '\0';
                } else {
                        _cleanup_free_ char *status = NULL;

                        if (asprintf(&status, "%s/status", name) < 0)
                                return -ENOMEM;
                        if (faccessat(dirfd(d), status, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                }
                if (!vm_name_valid(name) || strv_contains(*names, name))
                        continue;
                if (strv_push(names, name) < 0)
                        return -ENOMEM;
                name = NULL;
        }
        return 0;
}

/* The VM names vfioctl would find: user configs, system configs, and VMs that have a runtime record. */
static int list_vms(void)
{
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *user = NULL, *run = NULL;

        if (vm_user_config_dir(&user) == 0)
                (void)list_dir_names(user, ".conf", &names);
        (void)list_dir_names(VFIOCTL_SYSTEM_VMS_DIR, ".conf", &names);
        if (vm_run_base(arg_root, &run) == 0)
                (void)list_dir_names(run, NULL, &names);
        strv_sort(names);
        STRV_FOREACH(n, names)
                printf("%s\n", *n);
        return EXIT_OK;
}

/* Each device of the host root: "ADDRESS<TAB>VENDOR:DEVICE<TAB>NAME", the selectors devices --json shows. */
static int list_devices(void)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *db = NULL;

        if (vfio_host_open(arg_root, &h) < 0 || vfio_model_load(h, &m) < 0)
                return EXIT_FAILURE_GENERIC; /* quietly: a completion must not print over the prompt */
        (void)vfio_pci_names_new(NULL, &db);
        for (size_t i = 0; i < m->pci->n; i++) {
                const vfio_pci_dev *d = m->pci->devs[i];
                _cleanup_free_ char *vendor = NULL, *device = NULL;

                if (db) {
                        vendor = vfio_pci_names_vendor(db, d->vendor);
                        device = vfio_pci_names_device(db, d->vendor, d->device);
                }
                printf("%s\t%04x:%04x\t%s%s%s\n", d->name, (unsigned)d->vendor, (unsigned)d->device,
                       vendor ? vendor : "", vendor && device ? " " : "", device ? device : "");
        }
        return EXIT_OK;
}

int verb_completion(int argc, char **argv)
{
        size_t n;
        const verb *verbs = tool_verbs(&n);

        if (argc == 2 && strcmp(argv[1], "bash") == 0)
                return print_bash(verbs, n);
        if (argc == 2 && strcmp(argv[1], "zsh") == 0)
                return print_zsh(verbs, n);
        if (argc == 3 && strcmp(argv[1], "list") == 0 && strcmp(argv[2], "vms") == 0)
                return list_vms();
        if (argc == 3 && strcmp(argv[1], "list") == 0 && strcmp(argv[2], "devices") == 0)
                return list_devices();
        tool_error(
                "completion: expected bash, zsh, 'list vms' or 'list devices'; usage: vfioctl completion bash|zsh");
        return EXIT_USAGE;
}
