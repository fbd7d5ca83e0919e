/* The client's side of a reconnecting link: the connection lost
 * (prpc__client_link_down) and a new one (prpc__client_link_up), and the
 * state changes the application is told about. How calls are kept and
 * sent again is described at the top of client.c. */
#include "core/client_impl.h"

/* Under c->mu, for prpc__pending_take_if when the connection is lost:
 * takes the calls that were sent and cannot be sent again; kept calls
 * stay, marked unsent. Calls not sent yet stay too: send_request decides
 * for them. */
static bool pick_lost(prpc__pending *p, void *user)
{
    prpc_client *c = user;
    if (p->keep) {
        p->sent = false;
        return false;
    }
    if (!p->sent)
        return false;
    if (p->is_async)
        c->nasync--;
    return true;
}

void prpc__client_link_down(prpc_client *client, prpc_status why)
{
    (void)why;
    prpc__mutex_lock(&client->mu);
    if (client->closed || client->down) {
        prpc__mutex_unlock(&client->mu);
        return;
    }
    client->down = true;
    prpc__pending *list = prpc__pending_take_if(&client->table, pick_lost, client);
    prpc__client_rx_kick_locked(client); /* the background receiver reconnects */
    prpc__mutex_unlock(&client->mu);
    prpc__client_fail_list_receiving(client, list, PRPC_ERR_DISCONNECTED);
}

/* Under c->mu, for prpc__pending_take_if on a new connection: sends each
 * kept call whose request is ready (the others are being encoded: their
 * callers send them). Takes nothing. */
static bool pick_resend(prpc__pending *p, void *user)
{
    prpc_client *c = user;
    if (!p->sent && p->req != NULL) {
        p->sent = true;
        p->gen = c->gen;
        (void)c->ops->send(c->link, c->gen, p->req, p->req_len);
    }
    return false;
}

void prpc__client_link_up(prpc_client *client, uint64_t gen)
{
    prpc__mutex_lock(&client->mu);
    if (client->closed) {
        prpc__mutex_unlock(&client->mu);
        return;
    }
    client->gen = gen;
    client->down = false;
    /* Subscriptions first, so that events caused by the calls sent again
     * are not missed. A send that fails means this connection is lost
     * too: the link reports it, and the next one does all this again. */
    for (uint32_t i = 0; i < client->nhandlers; i++)
        (void)prpc__client_send_notify(client, gen, prpc__client_subscribe_method.wire_name,
                                       prpc__client_subscribe_method.nparams,
                                       prpc__client_encode_name,
                                       client->handlers[i].event->wire_name);
    (void)prpc__pending_take_if(&client->table, pick_resend, client);
    prpc__client_rx_kick_locked(client);
    prpc__mutex_unlock(&client->mu);
}

void prpc__client_report_state(prpc_client *client, prpc_client_state state, prpc_status why)
{
    if (state == PRPC_CLIENT_CONNECTED) {
        prpc__mutex_lock(&client->mu);
        client->stats.reconnects++;
        prpc__mutex_unlock(&client->mu);
    }
    if (client->on_state == NULL)
        return;
    const prpc_client *old = prpc__client_callbacks_begin(client);
    client->on_state(client->on_state_user, client, state, why);
    prpc__client_callbacks_end(old);
}

void prpc__client_count_attempt(prpc_client *client)
{
    prpc__mutex_lock(&client->mu);
    client->stats.reconnect_attempts++;
    prpc__mutex_unlock(&client->mu);
}
