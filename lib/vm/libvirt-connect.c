/*
 * Talking to a libvirt daemon with libvirt's own client library (libvirt-host, libvirt-domain,
 * libvirt-nodedev API references): the devices of the host it runs on come from its node devices
 * (formatnode.rst), so a VM defined there names that host's devices, not this one's.
 */
#include "vfioctl/libvirt-connect.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "cleanup.h"
#include "dl-util.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/selector.h"
#include "vfioctl/vmdefaults.h"
#include "xmllib.h"

/* ---- node devices ---------------------------------------------------------------------------------- */

static void usb_done(vm_node_usb *u)
{
        free(u->port);
}

vm_node_devices *vm_node_devices_free(vm_node_devices *d)
{
        if (!d)
                return NULL;
        vfio_model_free(d->model);
        for (size_t i = 0; i < d->n_usb; i++)
                usb_done(&d->usb[i]);
        free(d->usb);
        free(d);
        return NULL;
}

static xmlNode *elem(xmlNode *n, const char *name)
{
        for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
                        return c;
        return NULL;
}

/* The text of a child element, or an attribute of it (attr != NULL); NULL when absent. malloc'd. */
static char *value(xmlNode *n, const char *name, const char *attr)
{
        xmlNode *c = elem(n, name);
        xmlChar *v;
        char *s;

        if (!c)
                return NULL;
        v = attr ? xmlGetProp(c, (const xmlChar *)attr) : xmlNodeGetContent(c);
        if (!v)
                return NULL;
        s = strdup((const char *)v);
        xmlFree(v);
        return s;
}

static int number(xmlNode *n, const char *name, const char *attr, uint64_t max, uint64_t *ret)
{
        _cleanup_free_ char *v = value(n, name, attr);

        return v && parse_uint(v, 0, max, ret) == 0 ? 0 : -EBADMSG;
}

/* <capability type='pci'>: domain, bus, slot, function, vendor and product ids, class. */
static int parse_pci(xmlNode *dev, xmlNode *cap, vfio_pci_dev **ret)
{
        _cleanup_(vfio_pci_dev_freep) vfio_pci_dev *d = calloc(1, sizeof(*d));
        _cleanup_free_ char *path = value(dev, "path", NULL),
                            *drv = value(elem(dev, "driver"), "name", NULL);
        uint64_t dom, bus, slot, fn, vendor, device, class = 0, group;
        char buf[VFIO_PCI_ADDR_MAX];

        if (!d)
                return -ENOMEM;
        if (number(cap, "domain", NULL, UINT32_MAX, &dom) < 0 || number(cap, "bus", NULL, 0xff, &bus) < 0 ||
            number(cap, "slot", NULL, 0x1f, &slot) < 0 || number(cap, "function", NULL, 7, &fn) < 0 ||
            number(cap, "vendor", "id", 0xffff, &vendor) < 0 ||
            number(cap, "product", "id", 0xffff, &device) < 0)
                return -EBADMSG;
        (void)number(cap, "class", NULL, 0xffffff, &class);
        d->addr = (vfio_pci_addr){ (uint32_t)dom, (uint8_t)bus, (uint8_t)slot, (uint8_t)fn };
        d->name = strdup(vfio_pci_addr_format(&d->addr, buf));
        if (!d->name)
                return -ENOMEM;
        d->vendor = (int32_t)vendor;
        d->device = (int32_t)device;
        d->class = (int32_t) class;
        d->subsystem_vendor = d->subsystem_device = d->revision = -1;
        d->header = VFIO_PCI_HEADER_UNKNOWN; /* bridges are told by class */
        d->boot_vga = -1;
        d->numa_node = -1;
        d->iommu_group = number(cap, "iommuGroup", "number", INT32_MAX, &group) == 0 ? (int)group : -1;
        /* "/sys/devices/pci0000:00/0000:00:03.0": the model keeps paths below sys/. */
        if (path && strncmp(path, "/sys/", 5) == 0 && !(d->sysfs_path = strdup(path + 5)))
                return -ENOMEM;
        d->driver = TAKE_PTR(drv);
        *ret = TAKE_PTR(d);
        return 0;
}

/* <capability type='usb_device'>: bus, device number, ids; the port path from the sysfs name "3-2.1". */
static int parse_usb(xmlNode *dev, xmlNode *cap, vm_node_usb *ret)
{
        _cleanup_free_ char *path = value(dev, "path", NULL);
        uint64_t bus, vendor, product;
        const char *base, *dash;

        if (number(cap, "bus", NULL, 255, &bus) < 0 || number(cap, "vendor", "id", 0xffff, &vendor) < 0 ||
            number(cap, "product", "id", 0xffff, &product) < 0)
                return -EBADMSG;
        *ret = (vm_node_usb){ .vendor = (uint16_t)vendor,
                              .product = (uint16_t)product,
                              .bus = (unsigned)bus };
        base = path ? strrchr(path, '/') : NULL;
        dash = base ? strchr(base, '-') : NULL;
        if (dash && dash[1] && !strchr(dash, ':') && !(ret->port = strdup(dash + 1)))
                return -ENOMEM;
        return 0;
}

static int cmp_dev(const void *a, const void *b)
{
        return vfio_pci_addr_compare(&(*(vfio_pci_dev *const *)a)->addr, &(*(vfio_pci_dev *const *)b)->addr);
}

int vm_node_devices_parse(char *const *xmls, vm_node_devices **ret)
{
        _cleanup_(vm_node_devices_freep) vm_node_devices *d = calloc(1, sizeof(*d));
        vfio_pci_list *l;
        size_t n = strv_length((char **)xmls);

        if (!d || !(d->model = calloc(1, sizeof(vfio_model))) ||
            !(l = d->model->pci = calloc(1, sizeof(*l))) || !(l->devs = calloc(n + 1, sizeof(*l->devs))) ||
            !(d->usb = calloc(n + 1, sizeof(*d->usb))))
                return -ENOMEM;
        if (vm_xml_load(NULL) < 0)
                return -EOPNOTSUPP;
        STRV_FOREACH(x, xmls) {
                xmlDocPtr doc = xmlReadMemory(*x, (int)strlen(*x), "nodedev.xml", NULL,
                                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
                xmlNode *dev = doc ? xmlDocGetRootElement(doc) : NULL;
                int r = 0;

                if (!dev || strcmp((const char *)dev->name, "device") != 0) {
                        xmlFreeDoc(doc);
                        return -EBADMSG;
                }
                for (xmlNode *c = dev->children; c && r >= 0; c = c->next) {
                        xmlChar *type;

                        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "capability") != 0)
                                continue;
                        type = xmlGetProp(c, (const xmlChar *)"type");
                        if (type && !strcmp((const char *)type, "pci")) {
                                r = parse_pci(dev, c, &l->devs[l->n]);
                                if (r >= 0)
                                        l->n++;
                        } else if (type && !strcmp((const char *)type, "usb_device")) {
                                r = parse_usb(dev, c, &d->usb[d->n_usb]);
                                if (r >= 0)
                                        d->n_usb++;
                        }
                        xmlFree(type);
                }
                xmlFreeDoc(doc);
                if (r < 0)
                        return r;
        }
        /* The model's lookups are binary searches by address. */
        qsort(l->devs, l->n, sizeof(*l->devs), cmp_dev);
        d->model->devices = calloc(l->n + 1, sizeof(*d->model->devices));
        if (!d->model->devices)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++)
                d->model->devices[i] =
                        (vfio_model_device){ .pci = l->devs[i], .verdict = VFIO_VERDICT_ALONE };
        *ret = TAKE_PTR(d);
        return 0;
}

int vm_node_devices_resolve(vm_config *c, const vm_node_devices *d, vfio_pci_names *names, const char *where,
                            char ***ret_errors)
{
        _cleanup_strv_free_ char **errors = NULL;
        int r;

        r = vm_config_resolve_on(c, d->model, names, where, &errors);
        if (r < 0 && r != -EINVAL)
                return r;
        for (size_t i = 0; i < c->n_usbs; i++) {
                const vm_usb *u = &c->usbs[i];
                bool found = false;

                for (size_t k = 0; k < d->n_usb && !found; k++)
                        found = u->has_id ? d->usb[k].vendor == u->vendor && d->usb[k].product == u->product
                                          : d->usb[k].bus == u->host_bus && d->usb[k].port && u->host_port &&
                                                    !strcmp(d->usb[k].port, u->host_port);
                if (found)
                        continue;
                if (u->has_id)
                        r = strv_extendf(
                                &errors,
                                "%s:%u: [usb \"%s\"] device %04x:%04x is not plugged into %s (its node devices have no such USB device); nothing was defined",
                                c->filename, u->line, u->name, u->vendor, u->product, where);
                else
                        r = strv_extendf(
                                &errors,
                                "%s:%u: [usb \"%s\"] nothing is plugged into bus %u port %s on %s; nothing was defined",
                                c->filename, u->line, u->name, u->host_bus, u->host_port, where);
                if (r < 0)
                        return r;
        }
        if (errors) {
                *ret_errors = TAKE_PTR(errors);
                return -ENODEV;
        }
        return 0;
}

/* ---- the client library, opened on first use ------------------------------------------------------ */

/* Linking libvirt's client library pulls about fifty shared libraries (GLib, GnuTLS, curl, Kerberos, ...)
 * into every run of vfioctl: ~35 ms before main(), more than `devices` spends listing 512 PCI functions.
 * Only the verbs that talk to a daemon need it, so it is opened when they connect (libvirt0's soname),
 * and every other verb starts as fast as lspci. The pointers take their types from libvirt's headers,
 * so a changed prototype fails the build, not the call. */
#define LIBVIRT_SONAME "libvirt.so.0"

static struct {
        __typeof__(virConnectClose) *virConnectClose;
        __typeof__(virConnectGetURI) *virConnectGetURI;
        __typeof__(virConnectListAllNodeDevices) *virConnectListAllNodeDevices;
        __typeof__(virConnectOpen) *virConnectOpen;
        __typeof__(virConnectOpenReadOnly) *virConnectOpenReadOnly;
        __typeof__(virDomainDefineXMLFlags) *virDomainDefineXMLFlags;
        __typeof__(virDomainFree) *virDomainFree;
        __typeof__(virDomainGetXMLDesc) *virDomainGetXMLDesc;
        __typeof__(virDomainLookupByName) *virDomainLookupByName;
        __typeof__(virGetLastError) *virGetLastError;
        __typeof__(virGetLastErrorMessage) *virGetLastErrorMessage;
        __typeof__(virNodeDeviceFree) *virNodeDeviceFree;
        __typeof__(virNodeDeviceGetXMLDesc) *virNodeDeviceGetXMLDesc;
        __typeof__(virSetErrorFunc) *virSetErrorFunc;
} lv;

static void *libvirt_handle;

/* clang-format off */
#define LV_ENTRY(name) { #name, &lv.name }
/* clang-format on */
static const dl_symbol lv_table[] = {
        LV_ENTRY(virConnectClose),
        LV_ENTRY(virConnectGetURI),
        LV_ENTRY(virConnectListAllNodeDevices),
        LV_ENTRY(virConnectOpen),
        LV_ENTRY(virConnectOpenReadOnly),
        LV_ENTRY(virDomainDefineXMLFlags),
        LV_ENTRY(virDomainFree),
        LV_ENTRY(virDomainGetXMLDesc),
        LV_ENTRY(virDomainLookupByName),
        LV_ENTRY(virGetLastError),
        LV_ENTRY(virGetLastErrorMessage),
        LV_ENTRY(virNodeDeviceFree),
        LV_ENTRY(virNodeDeviceGetXMLDesc),
        LV_ENTRY(virSetErrorFunc),
};

static_assert(sizeof(lv) == sizeof(lv_table) / sizeof(lv_table[0]) * sizeof(void *),
              "every slot of lv has its entry");

static int libvirt_load(char **ret_error)
{
        const char *missing;
        char why[256];
        int r;

        if (libvirt_handle)
                return 0;
        if (dl_open_table(LIBVIRT_SONAME, lv_table, sizeof(lv_table) / sizeof(lv_table[0]), &libvirt_handle,
                          &missing, why, sizeof(why)) >= 0)
                return 0;
        if (missing)
                r = asprintf(ret_error, "libvirt's client library (%s) lacks %s, which vfioctl needs: %s",
                             LIBVIRT_SONAME, missing, why);
        else
                r = asprintf(
                        ret_error,
                        "libvirt's client library (%s) cannot be loaded: %s; install it (Debian: libvirt0, Fedora: libvirt-libs)",
                        LIBVIRT_SONAME, why);
        if (r < 0)
                *ret_error = NULL;
        return -EOPNOTSUPP;
}

/* ---- the connection -------------------------------------------------------------------------------- */

struct vm_libvirt_conn {
        virConnectPtr conn;
        char *uri;
};

/* libvirt prints every error to stderr unless told otherwise; the tool reports them once. */
static void quiet(void *data, virErrorPtr e)
{
        (void)data;
        (void)e;
}

static int libvirt_error(char **ret_error, const char *what)
{
        const char *m = lv.virGetLastErrorMessage();

        if (asprintf(ret_error, "%s: %s", what, m ? m : "unknown libvirt error") < 0)
                *ret_error = NULL;
        return -EIO;
}

int vm_libvirt_connect(const char *uri, bool read_only, vm_libvirt_conn **ret, char **ret_error)
{
        _cleanup_(vm_libvirt_conn_freep) vm_libvirt_conn *c = calloc(1, sizeof(*c));
        char *u;

        int r;

        if (!c)
                return -ENOMEM;
        r = libvirt_load(ret_error);
        if (r < 0)
                return r;
        lv.virSetErrorFunc(NULL, quiet);
        c->conn = read_only ? lv.virConnectOpenReadOnly(uri) : lv.virConnectOpen(uri);
        if (!c->conn) {
                _cleanup_free_ char *what = NULL;

                if (asprintf(&what, "cannot connect to %s", uri ? uri : "libvirt's default URI") < 0)
                        return -ENOMEM;
                return libvirt_error(ret_error, what);
        }
        u = lv.virConnectGetURI(c->conn);
        c->uri = strdup(u ? u : uri ? uri : "");
        free(u);
        if (!c->uri)
                return -ENOMEM;
        log_debug("connected to %s", c->uri);
        *ret = TAKE_PTR(c);
        return 0;
}

vm_libvirt_conn *vm_libvirt_conn_free(vm_libvirt_conn *c)
{
        if (!c)
                return NULL;
        if (c->conn)
                lv.virConnectClose(c->conn);
        free(c->uri);
        free(c);
        return NULL;
}

const char *vm_libvirt_conn_uri(const vm_libvirt_conn *c)
{
        return c->uri;
}

int vm_libvirt_node_devices(vm_libvirt_conn *c, vm_node_devices **ret, char **ret_error)
{
        _cleanup_strv_free_ char **xmls = NULL;
        virNodeDevicePtr *devs = NULL;
        int n, r = 0;

        n = lv.virConnectListAllNodeDevices(c->conn, &devs,
                                            VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV |
                                                    VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_DEV);
        if (n < 0)
                return libvirt_error(ret_error, "listing the node devices");
        for (int i = 0; i < n; i++) {
                char *x = r < 0 ? NULL : lv.virNodeDeviceGetXMLDesc(devs[i], 0);

                if (r >= 0 && !x)
                        r = libvirt_error(ret_error, "reading a node device");
                else if (x && (r = strv_push(&xmls, x)) < 0)
                        free(x);
                lv.virNodeDeviceFree(devs[i]);
        }
        free(devs);
        if (r < 0)
                return r;
        r = vm_node_devices_parse(xmls, ret);
        if (r == -EBADMSG && asprintf(ret_error, "%s: a node device XML without its address", c->uri) < 0)
                *ret_error = NULL;
        return r;
}

int vm_libvirt_domain_exists(vm_libvirt_conn *c, const char *name, char **ret_error)
{
        virDomainPtr d = lv.virDomainLookupByName(c->conn, name);
        virErrorPtr e;

        if (d) {
                lv.virDomainFree(d);
                return 1;
        }
        e = lv.virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN)
                return 0;
        return libvirt_error(ret_error, "looking the domain up");
}

int vm_libvirt_define(vm_libvirt_conn *c, const char *xml, char **ret_error)
{
        virDomainPtr d = lv.virDomainDefineXMLFlags(c->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);

        if (!d)
                return libvirt_error(ret_error, "defining the domain");
        lv.virDomainFree(d);
        return 0;
}

int vm_libvirt_domain_xml(vm_libvirt_conn *c, const char *name, char **ret_xml, char **ret_error)
{
        virDomainPtr d = lv.virDomainLookupByName(c->conn, name);
        char *x;

        if (!d)
                return libvirt_error(ret_error, name);
        x = lv.virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        lv.virDomainFree(d);
        if (!x)
                return libvirt_error(ret_error, name);
        *ret_xml = x;
        return 0;
}
