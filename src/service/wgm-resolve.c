/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-resolve.h"

#include <string.h>

typedef struct {
    char   *host;
    guint16 port;
    GArray *endpoints; /* of WgmEndpoint: IPv4 first, then IPv6 */
} ResolveData;

static void
resolve_data_free(ResolveData *data)
{
    g_free(data->host);
    g_clear_pointer(&data->endpoints, g_array_unref);
    g_free(data);
}

static void
add_address(ResolveData *data, GInetAddress *address)
{
    WgmEndpoint endpoint = { 0 };

    endpoint.addr.family =
        g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV4 ? AF_INET : AF_INET6;
    memcpy(endpoint.addr.addr,
           g_inet_address_to_bytes(address),
           g_inet_address_get_native_size(address));
    endpoint.port = data->port;
    for (guint i = 0; i < data->endpoints->len; i++) {
        if (wgm_endpoint_equal(&g_array_index(data->endpoints, WgmEndpoint, i), &endpoint))
            return;
    }
    g_array_append_val(data->endpoints, endpoint);
}

static void
lookup_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GTask) task   = user_data;
    ResolveData *data       = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    GList *addrs            = g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);

    if (!addrs) {
        g_task_return_new_error(task,
                                error->domain,
                                error->code,
                                "cannot resolve \"%s\": %s",
                                data->host,
                                error->message);
        return;
    }
    /* IPv4 first, as wg(8) does through getaddrinfo()'s usual order; the
     * guard tries the others in turn when one does not answer. */
    for (int pass = 0; pass < 2; pass++) {
        for (GList *l = addrs; l; l = l->next) {
            gboolean v4 = g_inet_address_get_family(l->data) == G_SOCKET_FAMILY_IPV4;

            if (v4 == (pass == 0))
                add_address(data, l->data);
        }
    }
    g_resolver_free_addresses(addrs);
    g_task_return_boolean(task, TRUE);
}

void
wgm_endpoint_resolve_async(const char         *host,
                           guint16             port,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
    GTask       *task     = g_task_new(NULL, cancellable, callback, user_data);
    ResolveData *data     = g_new0(ResolveData, 1);
    WgmEndpoint  endpoint = { 0 };

    g_task_set_source_tag(task, wgm_endpoint_resolve_async);
    data->host      = g_strdup(host);
    data->port      = port;
    data->endpoints = g_array_new(FALSE, TRUE, sizeof(WgmEndpoint));
    g_task_set_task_data(task, data, (GDestroyNotify)resolve_data_free);

    if (wgm_ip_addr_parse(host, &endpoint.addr)) {
        endpoint.port = port;
        g_array_append_val(data->endpoints, endpoint);
        g_task_return_boolean(task, TRUE);
        g_object_unref(task);
        return;
    }
    {
        g_autoptr(GResolver) resolver = g_resolver_get_default();

        g_resolver_lookup_by_name_async(resolver, host, cancellable, lookup_cb, task);
    }
}

gboolean
wgm_endpoint_resolve_finish(GAsyncResult *result, WgmEndpoint *out, GError **error)
{
    GTask *task = G_TASK(result);

    g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
    if (!g_task_propagate_boolean(task, error))
        return FALSE;
    *out = g_array_index(((ResolveData *)g_task_get_task_data(task))->endpoints, WgmEndpoint, 0);
    return TRUE;
}

GArray *
wgm_endpoint_resolve_all_finish(GAsyncResult *result, GError **error)
{
    GTask *task = G_TASK(result);

    g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
    if (!g_task_propagate_boolean(task, error))
        return NULL;
    return g_array_ref(((ResolveData *)g_task_get_task_data(task))->endpoints);
}
