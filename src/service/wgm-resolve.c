/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-resolve.h"

#include <string.h>

typedef struct {
    char       *host;
    guint16     port;
    WgmEndpoint endpoint;
} ResolveData;

static void
resolve_data_free(ResolveData *data)
{
    g_free(data->host);
    g_free(data);
}

static void
lookup_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GTask) task   = user_data;
    ResolveData *data       = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    GList        *addrs     = g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);
    GInetAddress *pick      = NULL;

    if (!addrs) {
        g_task_return_new_error(task,
                                error->domain,
                                error->code,
                                "cannot resolve \"%s\": %s",
                                data->host,
                                error->message);
        return;
    }
    /* Prefer IPv4, as wg(8) does through getaddrinfo()'s usual order. */
    for (GList *l = addrs; l && !pick; l = l->next) {
        if (g_inet_address_get_family(l->data) == G_SOCKET_FAMILY_IPV4)
            pick = l->data;
    }
    if (!pick)
        pick = addrs->data;
    data->endpoint.addr.family =
        g_inet_address_get_family(pick) == G_SOCKET_FAMILY_IPV4 ? AF_INET : AF_INET6;
    memcpy(data->endpoint.addr.addr,
           g_inet_address_to_bytes(pick),
           g_inet_address_get_native_size(pick));
    data->endpoint.port = data->port;
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
    GTask       *task = g_task_new(NULL, cancellable, callback, user_data);
    ResolveData *data = g_new0(ResolveData, 1);

    g_task_set_source_tag(task, wgm_endpoint_resolve_async);
    data->host = g_strdup(host);
    data->port = port;
    g_task_set_task_data(task, data, (GDestroyNotify)resolve_data_free);

    if (wgm_ip_addr_parse(host, &data->endpoint.addr)) {
        data->endpoint.port = port;
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
    *out = ((ResolveData *)g_task_get_task_data(task))->endpoint;
    return TRUE;
}
