/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <sys/socket.h>

typedef struct {
    int family; /* AF_INET or AF_INET6 */
    union {
        guint8  addr[16];
        guint32 addr4; /* network byte order */
    };
} WgmIpAddr;

typedef struct {
    WgmIpAddr addr;
    guint8    plen;
} WgmIpPrefix;

typedef struct {
    WgmIpAddr addr;
    guint16   port; /* host byte order */
} WgmEndpoint;

/* Longest output of the to_string helpers, with NUL: "[v6%scope]:65535" or "v6/128". */
#define WGM_IP_STRLEN 64

gboolean    wgm_ip_addr_parse(const char *str, WgmIpAddr *out);
const char *wgm_ip_addr_to_string(const WgmIpAddr *addr, char buf[WGM_IP_STRLEN]);

/* "10.0.0.1/24", "fd00::1/64"; without "/N" the host prefix (32/128) is assumed
 * when @allow_host is TRUE, else it is an error.  Host bits set beyond the prefix
 * are kept as written (addresses), wgm_ip_prefix_normalize() clears them (routes). */
gboolean    wgm_ip_prefix_parse(const char  *str,
                                gboolean     allow_host,
                                WgmIpPrefix *out,
                                GError     **error);
void        wgm_ip_prefix_normalize(WgmIpPrefix *prefix);
const char *wgm_ip_prefix_to_string(const WgmIpPrefix *prefix, char buf[WGM_IP_STRLEN]);
gboolean    wgm_ip_prefix_is_default(const WgmIpPrefix *prefix);

/* "host:port", "1.2.3.4:51820", "[fd00::1]:51820".  Splits without resolving:
 * @out_host is the host name or address literal (without brackets). */
gboolean wgm_endpoint_split(const char *str, char **out_host, guint16 *out_port, GError **error);
gboolean wgm_endpoint_parse(const char *str, WgmEndpoint *out, GError **error); /* literal only */
const char *wgm_endpoint_to_string(const WgmEndpoint *ep, char buf[WGM_IP_STRLEN]);
gboolean    wgm_endpoint_equal(const WgmEndpoint *a, const WgmEndpoint *b);
/* Same family, length and address (host bits included). */
gboolean wgm_ip_prefix_equal(const WgmIpPrefix *a, const WgmIpPrefix *b);
