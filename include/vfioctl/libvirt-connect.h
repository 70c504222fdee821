/* A libvirt daemon, local or remote, through libvirt's client library: define a VM there, read one back. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfioctl/common.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/vmconf.h"

/* A USB device as a host's node devices show it (capability usb_device). */
typedef struct vm_node_usb {
        uint16_t vendor, product;
        unsigned bus;
        char *port; /* "2.1" from its sysfs name "3-2.1"; NULL for a root hub */
} vm_node_usb;

/* What a host has to pass through, read from libvirt's node devices (formatnode.rst), not from sysfs here.
 */
typedef struct vm_node_devices {
        vfio_model *model; /* its PCI devices, for selectors (no IOMMU groups or host-critical facts) */
        vm_node_usb *usb;
        size_t n_usb;
} vm_node_devices;

vm_node_devices *vm_node_devices_free(vm_node_devices *d);
VFIO_DEFINE_POINTER_CLEANUP(vm_node_devices, vm_node_devices_free)

/*
 * Builds the host's devices from node device XMLs (virNodeDeviceGetXMLDesc, virsh nodedev-dumpxml). XMLs of
 * other capabilities (net, block, ...) are skipped; a PCI or USB device XML without its address is -EBADMSG.
 */
int vm_node_devices_parse(char *const *xmls, vm_node_devices **ret);

/*
 * Resolves c's [gpu]/[pci] selectors against those devices (vm_config_resolve_on) and checks that every
 * [usb] device is there (by vendor:product, or bus and port). Each missing device is one "FILE:LINE: ..."
 * message naming where in *ret_errors, and the result is -ENODEV; nothing else is changed then.
 */
int vm_node_devices_resolve(vm_config *c, const vm_node_devices *d, vfio_pci_names *names, const char *where,
                            char ***ret_errors);

typedef struct vm_libvirt_conn vm_libvirt_conn;

/*
 * Opens a connection (virConnectOpen; read_only: virConnectOpenReadOnly). uri: any libvirt URI,
 * qemu:///session, qemu:///system, qemu+ssh://HOST/system, qemu+unix:///session?socket=PATH. Errors come
 * back as libvirt's message in *ret_error; the library never prints them.
 */
int vm_libvirt_connect(const char *uri, bool read_only, vm_libvirt_conn **ret, char **ret_error);
vm_libvirt_conn *vm_libvirt_conn_free(vm_libvirt_conn *c);
VFIO_DEFINE_POINTER_CLEANUP(vm_libvirt_conn, vm_libvirt_conn_free)
/* The URI as the daemon names itself (virConnectGetURI), for messages. */
const char *vm_libvirt_conn_uri(const vm_libvirt_conn *c);

/* The PCI and USB node devices of the connection's host (virConnectListAllNodeDevices). */
int vm_libvirt_node_devices(vm_libvirt_conn *c, vm_node_devices **ret, char **ret_error);
/* 1 when a domain of that name is defined there, 0 when not. */
int vm_libvirt_domain_exists(vm_libvirt_conn *c, const char *name, char **ret_error);
/* Defines (or redefines) a domain from its XML, validated against libvirt's schema
 * (VIR_DOMAIN_DEFINE_VALIDATE). */
int vm_libvirt_define(vm_libvirt_conn *c, const char *xml, char **ret_error);
/* The persistent definition of a domain (virDomainGetXMLDesc, VIR_DOMAIN_XML_INACTIVE). */
int vm_libvirt_domain_xml(vm_libvirt_conn *c, const char *name, char **ret_xml, char **ret_error);
