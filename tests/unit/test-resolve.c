/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Endpoint resolution.  Literal addresses need no resolver.  For names, a
 * GResolver of the test's own stands in for DNS: unit tests may not send
 * queries to the host's resolvers (traffic stays on this machine), and the
 * real lookup, through getaddrinfo() and /etc/hosts, is exercised by the
 * netns suite (/netns/mesh/endpoint-resolves-later).
 */
#include "config.h"

#include <arpa/inet.h>

#include "wgm-resolve.h"

/* ---- a resolver that knows two names ------------------------------------ */

typedef struct {
    GResolver parent_instance;
} FakeResolver;
typedef GResolverClass FakeResolverClass;

static GType fake_resolver_get_type(void);
G_DEFINE_TYPE(FakeResolver, fake_resolver, G_TYPE_RESOLVER)

static void
fake_lookup_by_name_async(GResolver          *resolver,
                          const char         *hostname,
                          GCancellable       *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
    g_autoptr(GTask) task = g_task_new(resolver, cancellable, callback, user_data);
    GList *addrs          = NULL;

    if (g_str_equal(hostname, "dual.example")) {
        /* IPv6 first, as a resolver may order them: IPv4 is still chosen. */
        addrs = g_list_append(addrs, g_inet_address_new_from_string("2001:db8::7"));
        addrs = g_list_append(addrs, g_inet_address_new_from_string("192.0.2.7"));
    } else if (g_str_equal(hostname, "v6only.example")) {
        addrs = g_list_append(addrs, g_inet_address_new_from_string("2001:db8::8"));
    }
    if (addrs)
        g_task_return_pointer(task, addrs, (GDestroyNotify)g_resolver_free_addresses);
    else
        g_task_return_new_error(
            task, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "Name or service not known");
}

static GList *
fake_lookup_by_name_finish(GResolver *resolver, GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

static void
fake_resolver_init(FakeResolver *self)
{
}

static void
fake_resolver_class_init(FakeResolverClass *klass)
{
    klass->lookup_by_name_async  = fake_lookup_by_name_async;
    klass->lookup_by_name_finish = fake_lookup_by_name_finish;
}

/* ---- tests -------------------------------------------------------------- */

typedef struct {
    gboolean    done;
    gboolean    ok;
    WgmEndpoint endpoint;
    GError     *error;
} Result;

static void
resolved_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Result *r = user_data;

    r->ok   = wgm_endpoint_resolve_finish(result, &r->endpoint, &r->error);
    r->done = TRUE;
}

static void
resolve(const char *host, guint16 port, Result *r)
{
    *r = (Result){ 0 };
    wgm_endpoint_resolve_async(host, port, NULL, resolved_cb, r);
    /* Never synchronously, even for a literal: callers may rely on it. */
    g_assert_false(r->done);
    while (!r->done)
        g_main_context_iteration(NULL, TRUE);
}

static void
assert_endpoint(const Result *r, const char *expected)
{
    char buf[WGM_IP_STRLEN];

    g_assert_no_error(r->error);
    g_assert_true(r->ok);
    g_assert_cmpstr(wgm_endpoint_to_string(&r->endpoint, buf), ==, expected);
}

static void
test_literals(void)
{
    Result r;

    resolve("10.200.1.2", 51820, &r);
    assert_endpoint(&r, "10.200.1.2:51820");
    resolve("fd00::2", 1, &r);
    assert_endpoint(&r, "[fd00::2]:1");
}

static void
test_names(void)
{
    Result r;

    resolve("dual.example", 51820, &r);
    assert_endpoint(&r, "192.0.2.7:51820");
    resolve("v6only.example", 65535, &r);
    assert_endpoint(&r, "[2001:db8::8]:65535");
}

static void
test_failure_names_the_host(void)
{
    Result r;

    resolve("nowhere.example", 51820, &r);
    g_assert_false(r.ok);
    g_assert_error(r.error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND);
    g_assert_cmpstr(
        r.error->message, ==, "cannot resolve \"nowhere.example\": Name or service not known");
    g_clear_error(&r.error);
}

static void
test_cancelled(void)
{
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Result r                            = { 0 };

    g_cancellable_cancel(cancellable);
    wgm_endpoint_resolve_async("dual.example", 1, cancellable, resolved_cb, &r);
    while (!r.done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_false(r.ok);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error(&r.error);
}

int
main(int argc, char *argv[])
{
    g_autoptr(GResolver) fake = NULL;

    g_test_init(&argc, &argv, NULL);
    fake = g_object_new(fake_resolver_get_type(), NULL);
    g_resolver_set_default(fake);

    g_test_add_func("/resolve/literals", test_literals);
    g_test_add_func("/resolve/names", test_names);
    g_test_add_func("/resolve/failure-names-the-host", test_failure_names_the_host);
    g_test_add_func("/resolve/cancelled", test_cancelled);
    return g_test_run();
}
