/* The calculator's handlers, shared by the server program and the tests. */
#ifndef CALC_SERVICE_H
#define CALC_SERVICE_H

#include "calc_server.h"

/* The handler table to pass to calc_Calculator_register. */
extern const calc_Calculator_ops calc_service_ops;

/* slow_add defers its reply to a timer thread, so a slow call never holds
 * up its connection's later calls. Start the thread before serving; stop it
 * after prpc_server_stop: calls still waiting are answered with
 * PRPC_ERR_UNAVAILABLE so none leaks. */
prpc_status calc_service_start(void);
void calc_service_stop(void);

#endif
