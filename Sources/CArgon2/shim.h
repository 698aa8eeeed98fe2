#ifndef HELPDESK_CARGON2_SHIM_H
#define HELPDESK_CARGON2_SHIM_H

// libargon2 (Debian: libargon2-dev to build, libargon2-1 at run time), the reference implementation.
#include <argon2.h>
#include <stdint.h>
#include <string.h>

/// The raw Argon2id (version 0x13) hash of `pwd` with `lanes` lanes computed on the calling thread
/// alone: argon2id_hash_raw would start one thread per lane, so a verification could take every core;
/// here the pool that calls this bounds the CPU. The result is the same for any thread count.
/// Returns ARGON2_OK (0) or an argon2_error_codes value.
static inline int helpdesk_argon2id_raw(uint32_t t_cost, uint32_t m_cost, uint32_t lanes,
                                        const void *pwd, size_t pwdlen, const void *salt, size_t saltlen,
                                        void *out, size_t outlen) {
    if (pwdlen > UINT32_MAX || saltlen > UINT32_MAX || outlen > UINT32_MAX) {
        return ARGON2_PWD_TOO_LONG;
    }
    argon2_context context;
    memset(&context, 0, sizeof context);
    context.out = (uint8_t *)out;
    context.outlen = (uint32_t)outlen;
    // Neither buffer is written: ARGON2_DEFAULT_FLAGS does not clear the password or the secret.
    context.pwd = (uint8_t *)pwd;
    context.pwdlen = (uint32_t)pwdlen;
    context.salt = (uint8_t *)salt;
    context.saltlen = (uint32_t)saltlen;
    context.t_cost = t_cost;
    context.m_cost = m_cost;
    context.lanes = lanes;
    context.threads = 1;
    context.version = ARGON2_VERSION_13;
    context.flags = ARGON2_DEFAULT_FLAGS;
    return argon2id_ctx(&context);
}

#endif
