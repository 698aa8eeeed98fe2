#ifndef CCURL_SMTP_H
#define CCURL_SMTP_H

#include <stddef.h>

/// Sends one RFC 5322 message over SMTP with libcurl (curl_easy_setopt is variadic, which Swift
/// cannot call, hence this shim). `require_tls`: 1 requires TLS (STARTTLS for smtp://),
/// 0 tries STARTTLS and carries on in plain text only when the server does not offer it.
/// `ca_file`, when not empty, names the CA bundle to verify the server against (a private CA).
/// Returns the CURLcode; `response_code` receives the last SMTP reply code and `error` (at least
/// 256 bytes) libcurl's message.
int helpdesk_smtp_send(const char *url, const char *username, const char *password, const char *mail_from,
                       const char *const *recipients, size_t recipient_count, const char *message, size_t message_length,
                       int require_tls, const char *ca_file, long connect_timeout_ms, long timeout_ms, long *response_code, char *error);

#endif
