/* <sys/un.h> for Windows: struct sockaddr_un comes from <afunix.h>. Only
 * the unix: endpoint parser uses it (for the path length limit); unix:
 * endpoints themselves report PRPC_ERR_NOT_SUPPORTED on Windows. */
#ifndef PRPC_WIN32_SYS_UN_H
#define PRPC_WIN32_SYS_UN_H

#include <winsock2.h>
#include <afunix.h>

#endif /* PRPC_WIN32_SYS_UN_H */
