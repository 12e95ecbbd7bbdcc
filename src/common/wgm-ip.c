/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-ip.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "wgm-error.h"

#define HOSTNAME_MAX 253
#define LABEL_MAX    63

static gsize
addr_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

static guint8
max_plen(int family)
{
    return family == AF_INET ? 32 : 128;
}

gboolean
wgm_ip_addr_parse(const char *str, WgmIpAddr *out)
{
    WgmIpAddr a = { 0 };

    g_return_val_if_fail(out, FALSE);

    if (!str)
        return FALSE;

    /* glibc's inet_pton() is strict: dotted quad only, no leading zeros
     * ("010.0.0.1" is octal to inet_aton, an error here), no whitespace,
     * no "%scope". */
    if (inet_pton(AF_INET, str, a.addr) == 1)
        a.family = AF_INET;
    else if (inet_pton(AF_INET6, str, a.addr) == 1)
        a.family = AF_INET6;
    else
        return FALSE;

    *out = a;
    return TRUE;
}

const char *
wgm_ip_addr_to_string(const WgmIpAddr *addr, char buf[WGM_IP_STRLEN])
{
    g_return_val_if_fail(addr && buf, NULL);

    if (!inet_ntop(addr->family, addr->addr, buf, WGM_IP_STRLEN))
        g_strlcpy(buf, "(invalid)", WGM_IP_STRLEN);
    return buf;
}

/* Decimal digits only, no sign, no leading zeros, at most @max. */
static gboolean
parse_decimal(const char *str, guint32 max, guint32 *out)
{
    guint64 v = 0;

    if (!str[0] || (str[0] == '0' && str[1]))
        return FALSE;
    for (; *str; str++) {
        if (!g_ascii_isdigit(*str))
            return FALSE;
        v = v * 10 + (guint64)(*str - '0');
        if (v > max)
            return FALSE;
    }
    *out = (guint32)v;
    return TRUE;
}

gboolean
wgm_ip_prefix_parse(const char *str, gboolean allow_host, WgmIpPrefix *out, GError **error)
{
    g_autofree char *quoted = NULL;
    g_autofree char *addr   = NULL;
    const char      *slash;
    WgmIpPrefix      p = { 0 };
    guint32          plen;

    g_return_val_if_fail(out, FALSE);
    g_return_val_if_fail(!error || !*error, FALSE);

    str    = str ? str : "";
    quoted = wgm_error_quote_value(str);
    slash  = strchr(str, '/');
    addr   = slash ? g_strndup(str, slash - str) : g_strdup(str);

    if (!wgm_ip_addr_parse(addr, &p.addr) || (!slash && !allow_host)) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("\"%s\" is not an IP prefix (expected ADDRESS/LENGTH)"),
                    quoted);
        return FALSE;
    }

    if (!slash) {
        p.plen = max_plen(p.addr.family);
    } else if (!parse_decimal(slash + 1, G_MAXUINT8, &plen) || plen > max_plen(p.addr.family)) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("\"%s\" has a bad prefix length (expected 0-%u after the '/')"),
                    quoted,
                    (guint)max_plen(p.addr.family));
        return FALSE;
    } else {
        p.plen = (guint8)plen;
    }

    *out = p;
    return TRUE;
}

void
wgm_ip_prefix_normalize(WgmIpPrefix *prefix)
{
    gsize    len;
    unsigned i;

    g_return_if_fail(prefix);

    len = addr_len(prefix->addr.family);
    for (i = 0; i < len; i++) {
        int bits = (int)prefix->plen - (int)i * 8;

        if (bits <= 0)
            prefix->addr.addr[i] = 0;
        else if (bits < 8)
            prefix->addr.addr[i] &= (guint8)(0xff << (8 - bits));
    }
}

const char *
wgm_ip_prefix_to_string(const WgmIpPrefix *prefix, char buf[WGM_IP_STRLEN])
{
    char addr[WGM_IP_STRLEN];

    g_return_val_if_fail(prefix && buf, NULL);

    g_snprintf(buf,
               WGM_IP_STRLEN,
               "%s/%u",
               wgm_ip_addr_to_string(&prefix->addr, addr),
               (guint)prefix->plen);
    return buf;
}

gboolean
wgm_ip_prefix_is_default(const WgmIpPrefix *prefix)
{
    g_return_val_if_fail(prefix, FALSE);

    return prefix->plen == 0;
}

/* A DNS name as getaddrinfo() would take it: labels of letters, digits and
 * '-' (not at either end), 1-63 bytes each, 253 in all, one trailing dot
 * allowed.  An all-numeric last label would be read as an IPv4 address, so
 * that is left to the caller's literal check. */
static gboolean
is_hostname(const char *host)
{
    gsize    len = strlen(host);
    gsize    label;
    gboolean numeric_label;
    gsize    i;

    if (len > 0 && host[len - 1] == '.')
        len--;
    if (len == 0 || len > HOSTNAME_MAX)
        return FALSE;

    label         = 0;
    numeric_label = TRUE;
    for (i = 0; i <= len; i++) {
        char c = i < len ? host[i] : '.';

        if (c == '.') {
            if (label == 0 || host[i - 1] == '-')
                return FALSE;
            if (i == len && numeric_label)
                return FALSE;
            label         = 0;
            numeric_label = TRUE;
            continue;
        }
        if (!g_ascii_isalnum(c) && c != '-')
            return FALSE;
        if (c == '-' && label == 0)
            return FALSE;
        if (!g_ascii_isdigit(c))
            numeric_label = FALSE;
        if (++label > LABEL_MAX)
            return FALSE;
    }
    return TRUE;
}

/* "fe80::1%eth0": the scope must look like an interface name. */
static gboolean
is_ip6_literal_with_scope(const char *host)
{
    g_autofree char *addr = NULL;
    const char      *pct  = strchr(host, '%');
    const char      *s;
    WgmIpAddr        a;

    if (!pct)
        return wgm_ip_addr_parse(host, &a) && a.family == AF_INET6;

    if (!pct[1] || strlen(pct + 1) >= IFNAMSIZ)
        return FALSE;
    for (s = pct + 1; *s; s++) {
        if (!g_ascii_isalnum(*s) && !strchr("-_.", *s))
            return FALSE;
    }
    addr = g_strndup(host, pct - host);
    return wgm_ip_addr_parse(addr, &a) && a.family == AF_INET6;
}

gboolean
wgm_endpoint_split(const char *str, char **out_host, guint16 *out_port, GError **error)
{
    g_autofree char *quoted = NULL;
    g_autofree char *host   = NULL;
    const char      *port_str;
    guint64          port = 0;

    g_return_val_if_fail(!error || !*error, FALSE);

    str    = str ? str : "";
    quoted = wgm_error_quote_value(str);

    if (str[0] == '[') {
        const char *close = strchr(str, ']');

        if (!close || close[1] != ':') {
            g_set_error(error,
                        WGM_ERROR,
                        WGM_ERROR_INVALID_SETTING,
                        _("\"%s\" is not an endpoint (expected [IPV6-ADDRESS]:PORT)"),
                        quoted);
            return FALSE;
        }
        host = g_strndup(str + 1, close - str - 1);
        if (!is_ip6_literal_with_scope(host)) {
            g_set_error(error,
                        WGM_ERROR,
                        WGM_ERROR_INVALID_SETTING,
                        _("\"%s\" is not an endpoint: only an IPv6 address may go in brackets"),
                        quoted);
            return FALSE;
        }
        port_str = close + 2;
    } else {
        const char *colon = strrchr(str, ':');
        WgmIpAddr   a;

        if (!colon) {
            g_set_error(error,
                        WGM_ERROR,
                        WGM_ERROR_INVALID_SETTING,
                        _("\"%s\" is not an endpoint: the port is missing (expected HOST:PORT)"),
                        quoted);
            return FALSE;
        }
        if (memchr(str, ':', colon - str)) {
            g_set_error(error,
                        WGM_ERROR,
                        WGM_ERROR_INVALID_SETTING,
                        _("\"%s\" is not an endpoint: an IPv6 address needs brackets "
                          "(expected [IPV6-ADDRESS]:PORT)"),
                        quoted);
            return FALSE;
        }
        host = g_strndup(str, colon - str);
        if (!(wgm_ip_addr_parse(host, &a) && a.family == AF_INET) && !is_hostname(host)) {
            g_set_error(error,
                        WGM_ERROR,
                        WGM_ERROR_INVALID_SETTING,
                        _("\"%s\" is not an endpoint: the host is neither an IPv4 address "
                          "nor a host name (expected HOST:PORT)"),
                        quoted);
            return FALSE;
        }
        port_str = colon + 1;
    }

    /* Leading zeros are harmless in a port ("051820" is unambiguous), but no
     * sign, space or suffix; port 0 cannot be sent to. */
    if (!port_str[0] || strspn(port_str, "0123456789") != strlen(port_str)
        || (port = g_ascii_strtoull(port_str, NULL, 10)) < 1 || port > G_MAXUINT16) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("\"%s\" is not an endpoint: bad port (expected 1-65535)"),
                    quoted);
        return FALSE;
    }

    if (out_host)
        *out_host = g_steal_pointer(&host);
    if (out_port)
        *out_port = (guint16)port;
    return TRUE;
}

gboolean
wgm_endpoint_parse(const char *str, WgmEndpoint *out, GError **error)
{
    g_autofree char *host = NULL;
    WgmEndpoint      ep   = { 0 };

    g_return_val_if_fail(out, FALSE);
    g_return_val_if_fail(!error || !*error, FALSE);

    if (!wgm_endpoint_split(str, &host, &ep.port, error))
        return FALSE;

    if (!wgm_ip_addr_parse(host, &ep.addr)) {
        g_autofree char *quoted = wgm_error_quote_value(str);

        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("\"%s\" is not an IP endpoint (expected ADDRESS:PORT or [ADDRESS]:PORT; "
                      "host names are not allowed here)"),
                    quoted);
        return FALSE;
    }

    *out = ep;
    return TRUE;
}

const char *
wgm_endpoint_to_string(const WgmEndpoint *ep, char buf[WGM_IP_STRLEN])
{
    char addr[WGM_IP_STRLEN];

    g_return_val_if_fail(ep && buf, NULL);

    wgm_ip_addr_to_string(&ep->addr, addr);
    if (ep->addr.family == AF_INET6)
        g_snprintf(buf, WGM_IP_STRLEN, "[%s]:%u", addr, (guint)ep->port);
    else
        g_snprintf(buf, WGM_IP_STRLEN, "%s:%u", addr, (guint)ep->port);
    return buf;
}

gboolean
wgm_endpoint_equal(const WgmEndpoint *a, const WgmEndpoint *b)
{
    g_return_val_if_fail(a && b, FALSE);

    return a->addr.family == b->addr.family && a->port == b->port
           && memcmp(a->addr.addr, b->addr.addr, addr_len(a->addr.family)) == 0;
}

gboolean
wgm_ip_prefix_equal(const WgmIpPrefix *a, const WgmIpPrefix *b)
{
    g_return_val_if_fail(a && b, FALSE);

    return a->addr.family == b->addr.family && a->plen == b->plen
           && memcmp(a->addr.addr, b->addr.addr, addr_len(a->addr.family)) == 0;
}
