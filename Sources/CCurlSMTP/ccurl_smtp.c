#include "ccurl_smtp.h"

#include <curl/curl.h>
#include <string.h>

struct upload {
    const char *data;
    size_t remaining;
};

static size_t read_message(char *buffer, size_t size, size_t count, void *context) {
    struct upload *upload = context;
    size_t room = size * count;
    size_t chunk = upload->remaining < room ? upload->remaining : room;
    memcpy(buffer, upload->data, chunk);
    upload->data += chunk;
    upload->remaining -= chunk;
    return chunk;
}

int helpdesk_smtp_send(const char *url, const char *username, const char *password, const char *mail_from,
                       const char *const *recipients, size_t recipient_count, const char *message, size_t message_length,
                       int require_tls, const char *ca_file, long connect_timeout_ms, long timeout_ms, long *response_code, char *error) {
    error[0] = '\0';
    *response_code = 0;
    CURL *curl = curl_easy_init();
    if (!curl) {
        strcpy(error, "libcurl could not start");
        return CURLE_FAILED_INIT;
    }
    struct curl_slist *list = NULL;
    for (size_t index = 0; index < recipient_count; index++) {
        list = curl_slist_append(list, recipients[index]);
    }
    struct upload upload = { message, message_length };
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, list);
    if (username && username[0]) curl_easy_setopt(curl, CURLOPT_USERNAME, username);
    if (password && password[0]) curl_easy_setopt(curl, CURLOPT_PASSWORD, password);
    curl_easy_setopt(curl, CURLOPT_USE_SSL, require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
    if (ca_file && ca_file[0]) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)message_length);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    CURLcode result = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, response_code);
    if (result != CURLE_OK && error[0] == '\0') {
        strncpy(error, curl_easy_strerror(result), 255);
        error[255] = '\0';
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return (int)result;
}
