/* libxml2, opened on first use by the verbs that read or write libvirt XML (see xmllib.c). */
#pragma once

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* The libxml2 calls vfioctl makes; each takes its type from libxml2's headers, so a changed prototype
 * fails the build, not the call. */
typedef struct vm_xmllib {
        __typeof__(xmlAddChild) *xmlAddChild;
        __typeof__(xmlCopyError) *xmlCopyError;
        __typeof__(xmlCtxtGetLastError) *xmlCtxtGetLastError;
        __typeof__(xmlCtxtReadMemory) *xmlCtxtReadMemory;
        __typeof__(xmlDocDumpFormatMemoryEnc) *xmlDocDumpFormatMemoryEnc;
        __typeof__(xmlDocGetRootElement) *xmlDocGetRootElement;
        __typeof__(xmlDocSetRootElement) *xmlDocSetRootElement;
        xmlFreeFunc *xmlFree; /* a variable in libxml2: its address */
        __typeof__(xmlFreeDoc) *xmlFreeDoc;
        __typeof__(xmlFreeNode) *xmlFreeNode;
        __typeof__(xmlFreeParserCtxt) *xmlFreeParserCtxt;
        __typeof__(xmlGetLineNo) *xmlGetLineNo;
        __typeof__(xmlGetProp) *xmlGetProp;
        __typeof__(xmlNewChild) *xmlNewChild;
        __typeof__(xmlNewDoc) *xmlNewDoc;
        __typeof__(xmlNewNode) *xmlNewNode;
        __typeof__(xmlNewNs) *xmlNewNs;
        __typeof__(xmlNewParserCtxt) *xmlNewParserCtxt;
        __typeof__(xmlNewProp) *xmlNewProp;
        __typeof__(xmlNewText) *xmlNewText;
        __typeof__(xmlNodeGetContent) *xmlNodeGetContent;
        __typeof__(xmlReadMemory) *xmlReadMemory;
        __typeof__(xmlResetError) *xmlResetError;
        __typeof__(xmlSetNs) *xmlSetNs;
        __typeof__(xmlSetStructuredErrorFunc) *xmlSetStructuredErrorFunc;
        __typeof__(xmlUnlinkNode) *xmlUnlinkNode;
} vm_xmllib;

extern vm_xmllib vm_xml;

/* Opens libxml2 once; 0, or -EOPNOTSUPP with what is missing and the package to install in *ret_error
 * (when ret_error is not NULL; NULL there when out of memory). Every entry point that parses or builds
 * XML calls it before the first libxml2 call. */
int vm_xml_load(char **ret_error);

#ifndef VM_XMLLIB_TABLE
/* The code calls libxml2 by its own names; they go through the table. */
#define xmlAddChild               vm_xml.xmlAddChild
#define xmlCopyError              vm_xml.xmlCopyError
#define xmlCtxtGetLastError       vm_xml.xmlCtxtGetLastError
#define xmlCtxtReadMemory         vm_xml.xmlCtxtReadMemory
#define xmlDocDumpFormatMemoryEnc vm_xml.xmlDocDumpFormatMemoryEnc
#define xmlDocGetRootElement      vm_xml.xmlDocGetRootElement
#define xmlDocSetRootElement      vm_xml.xmlDocSetRootElement
#undef xmlFree
#define xmlFree                   (*vm_xml.xmlFree)
#define xmlFreeDoc                vm_xml.xmlFreeDoc
#define xmlFreeNode               vm_xml.xmlFreeNode
#define xmlFreeParserCtxt         vm_xml.xmlFreeParserCtxt
#define xmlGetLineNo              vm_xml.xmlGetLineNo
#define xmlGetProp                vm_xml.xmlGetProp
#define xmlNewChild               vm_xml.xmlNewChild
#define xmlNewDoc                 vm_xml.xmlNewDoc
#define xmlNewNode                vm_xml.xmlNewNode
#define xmlNewNs                  vm_xml.xmlNewNs
#define xmlNewParserCtxt          vm_xml.xmlNewParserCtxt
#define xmlNewProp                vm_xml.xmlNewProp
#define xmlNewText                vm_xml.xmlNewText
#define xmlNodeGetContent         vm_xml.xmlNodeGetContent
#define xmlReadMemory             vm_xml.xmlReadMemory
#define xmlResetError             vm_xml.xmlResetError
#define xmlSetNs                  vm_xml.xmlSetNs
#define xmlSetStructuredErrorFunc vm_xml.xmlSetStructuredErrorFunc
#define xmlUnlinkNode             vm_xml.xmlUnlinkNode
#endif
