/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A fake UAPI server for unit tests (a thread serving a unix socket in a
 * temporary directory): it stands in for wireguard-go only to script the
 * failures the real one cannot be made to produce on demand.  Like
 * wireguard-go it answers the requests of one connection strictly in order,
 * and notes any request sent before the previous reply was out.
 */
#pragma once

#include <glib.h>

typedef struct {
    char    *text;  /* NULL: "listen_port=<request number>" or "errno=0" */
    gsize    chunk; /* written this many bytes at a time; 0: at once */
    gboolean cut;   /* close the connection after cut_after bytes */
    gsize    cut_after;
    gboolean hold;    /* wait for fake_server_release() before answering */
    gboolean swallow; /* never answer, keep the connection open, serve the next one */
} Reply;

typedef struct {
    char         *dir;
    char         *path;
    int           listen_fd;
    GThread      *thread;
    GMainContext *context; /* woken up on every change */

    GMutex     lock;
    GCond      cond;
    GQueue     script;    /* Reply*, for the next requests in order */
    GPtrArray *requests;  /* char*: every request received, in order */
    GArray    *swallowed; /* int: connections left hanging, closed at the end */
    guint      n_connections;
    guint      releases;
    gboolean   pipelined;
    gboolean   quit;
} FakeServer;

/* What the server saw so far, read at one instant. */
typedef struct {
    guint    n_requests;
    guint    n_connections;
    gboolean pipelined; /* a request came before the previous reply was out */
} Seen;

FakeServer *fake_server_new(void);
void        fake_server_free(FakeServer *srv);
/* The reply to the next request not yet scripted. */
void fake_server_script(FakeServer *srv, Reply reply);
/* Lets one held reply go. */
void fake_server_release(FakeServer *srv);
Seen fake_server_seen(FakeServer *srv);
/* Request number @i (from 0) as received; newly allocated. */
char *fake_server_request(FakeServer *srv, guint i);
