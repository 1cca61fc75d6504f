/*  socket_find.h -- the descriptor of one of this process's TCP
    connections, found by its addresses.

    civetweb 1.15 does not hand a request handler its connection's socket,
    and its mg_read () has no overall time limit (http/http.c, "Slow
    clients"): a connection still sending its body when the request's
    deadline passes is found here and its reading side shut down, which
    wakes the worker blocked in mg_read (). Linux only (/proc/self/fd);
    costs two system calls per open descriptor, so it is for the rare
    path, not for every request.
*/
#ifndef HTTP_SOCKET_FIND_H_INCLUDED
#define HTTP_SOCKET_FIND_H_INCLUDED

/* The connected TCP socket whose peer is peer_ip (text, IPv4 or IPv6)
   port peer_port and whose local port is local_port, or -1. The caller
   must make sure the connection stays open meanwhile (the descriptor
   could be reused otherwise). */
int http_socket_find (const char *peer_ip, int peer_port, int local_port);

#endif
