/* libxml2 opened when a verb first reads or writes libvirt XML, not at every start of vfioctl. */
#define VM_XMLLIB_TABLE
#include "xmllib.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include "dl-util.h"

/* Linked, libxml2 brings ICU, libstdc++, liblzma and libm into every run: ~6 ms of loading and
 * relocation before main() on the benchmark machine, about what `devices` spends listing 40 PCI functions
 * (docs/BENCHMARKS.md, Host model). Only import-libvirt, export-libvirt and the node devices of a libvirt
 * connection parse or build XML, so they open it. libxml2's soname is libxml2.so.2 since 2.0. */
#define LIBXML2_SONAME "libxml2.so.2"

vm_xmllib vm_xml;

static void *xml_handle;

/* clang-format off */
#define XL_ENTRY(name) { #name, &vm_xml.name }
/* clang-format on */
static const dl_symbol xl_table[] = {
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

int vm_xml_load(char **ret_error)
{
        const char *missing;
        char why[256], what[64];

        if (xml_handle)
                return 0;
        if (dl_open_table(LIBXML2_SONAME, xl_table, sizeof(xl_table) / sizeof(xl_table[0]), &xml_handle,
                          &missing, why, sizeof(why)) >= 0)
                return 0;
        if (missing)
                snprintf(what, sizeof(what), "lacks %s", missing);
        if (ret_error &&
            asprintf(ret_error, "libxml2 (%s) %s: %s; install it (Debian: libxml2, Fedora: libxml2)",
                     LIBXML2_SONAME, missing ? what : "cannot be loaded", why) < 0)
                *ret_error = NULL;
        return -EOPNOTSUPP;
}
