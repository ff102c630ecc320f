/* utf8.h: one UTF-8 check for every text sshroute reads or writes. */
#ifndef SSHROUTE_UTF8_H
#define SSHROUTE_UTF8_H

#include <stddef.h>

/* The length (1 to 4) of the UTF-8 sequence at s, with n bytes there; 0
 * when the bytes cannot start a valid sequence (overlong forms,
 * surrogates and values beyond U+10FFFF are not valid); -1 when they are
 * the valid start of a sequence that n bytes cut short. */
int utf8_sequence(const unsigned char *s, size_t n);

#endif
