/*
 * adminclient.h -- one request to the admin socket, as preforkctl and
 * "preforkd -s" make it.
 */
#ifndef PF_ADMINCLIENT_H
#define PF_ADMINCLIENT_H

/*
 * Send req (one line, no newline) to the socket at path, print the reply's
 * body on stdout or its error on stderr.  0 if the master said OK, 1 if it
 * said ERR, 2 if it could not be reached or did not answer.
 */
int	admin_request(const char *path, const char *req);

#endif
