/* libxml2 opened when a verb first reads or writes libvirt XML, not at every start of vfioctl. */
#define VM_XMLLIB_TABLE
#include "xmllib.h"

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Linked, libxml2 brings ICU, libstdc++, liblzma and libm into every run: ~6 ms of loading and
 * relocation before main() on the benchmark machine, about what `devices` spends listing 40 PCI functions
 * (docs/BENCHMARKS.md, Host model). Only import-libvirt, export-libvirt and the node devices of a libvirt
 * connection parse or build XML, so they open it. libxml2's soname is libxml2.so.2 since 2.0. */
#define LIBXML2_SONAME "libxml2.so.2"

vm_xmllib vm_xml;

static void *xml_handle;

/* Filled by memcpy of dlsym's result, as lib/vm/libvirt-connect.c does for the same aliasing reason. */
/* clang-format off */
#define XL_ENTRY(name) { #name, &vm_xml.name }
/* clang-format on */
static const struct {
        const char *name;
        void *slot;
} xl_table[] = {
        XL_ENTRY(xmlAddChild),
        XL_ENTRY(xmlCopyError),
        XL_ENTRY(xmlCtxtGetLastError),
        XL_ENTRY(xmlCtxtReadMemory),
        XL_ENTRY(xmlDocDumpFormatMemoryEnc),
        XL_ENTRY(xmlDocGetRootElement),
        XL_ENTRY(xmlDocSetRootElement),
        XL_ENTRY(xmlFree),
        XL_ENTRY(xmlFreeDoc),
        XL_ENTRY(xmlFreeNode),
        XL_ENTRY(xmlFreeParserCtxt),
        XL_ENTRY(xmlGetLineNo),
        XL_ENTRY(xmlGetProp),
        XL_ENTRY(xmlNewChild),
        XL_ENTRY(xmlNewDoc),
        XL_ENTRY(xmlNewNode),
        XL_ENTRY(xmlNewNs),
        XL_ENTRY(xmlNewParserCtxt),
        XL_ENTRY(xmlNewProp),
        XL_ENTRY(xmlNewText),
        XL_ENTRY(xmlNodeGetContent),
        XL_ENTRY(xmlReadMemory),
        XL_ENTRY(xmlResetError),
        XL_ENTRY(xmlSetNs),
        XL_ENTRY(xmlSetStructuredErrorFunc),
        XL_ENTRY(xmlUnlinkNode),
};

static_assert(sizeof(vm_xml) == sizeof(xl_table) / sizeof(xl_table[0]) * sizeof(void *),
              "every slot of vm_xml has its entry");

static int fail(char **ret_error, const char *what, const char *why)
{
        if (ret_error &&
            asprintf(ret_error, "libxml2 (%s) %s: %s; install it (Debian: libxml2, Fedora: libxml2)",
                     LIBXML2_SONAME, what, why ? why : "unknown error") < 0)
                *ret_error = NULL;
        return -EOPNOTSUPP;
}

int vm_xml_load(char **ret_error)
{
        void *h;

        if (xml_handle)
                return 0;
        h = dlopen(LIBXML2_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return fail(ret_error, "cannot be loaded", dlerror());
        for (size_t i = 0; i < sizeof(xl_table) / sizeof(xl_table[0]); i++) {
                void *sym = dlsym(h, xl_table[i].name);

                if (!sym) {
                        char what[64];

                        snprintf(what, sizeof(what), "lacks %s", xl_table[i].name);
                        memset(&vm_xml, 0, sizeof(vm_xml));
                        dlclose(h);
                        return fail(ret_error, what, dlerror());
                }
                /* POSIX: a function's address from dlsym has the representation of a void *. */
                memcpy(xl_table[i].slot, &sym, sizeof(sym));
        }
        xml_handle = h;
        return 0;
}
