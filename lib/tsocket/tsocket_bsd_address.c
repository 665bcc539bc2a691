/*
 * tsocket_bsd_address.c - inet (IPv4, IPv6) and unix addresses
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "tsocket_bsd_private.h"

static char *tsocket_address_bsd_string(const struct tsocket_address *addr,
					TALLOC_CTX *mem_ctx);
static struct tsocket_address *tsocket_address_bsd_copy(
	const struct tsocket_address *addr, TALLOC_CTX *mem_ctx,
	const char *location);

static const struct tsocket_address_ops tsocket_address_bsd_ops = {
	.name = "bsd",
	.string = tsocket_address_bsd_string,
	.copy = tsocket_address_bsd_copy,
};

const struct tsocket_address_bsd *tsocket_address_bsd_data(
	const struct tsocket_address *addr)
{
	if (addr == NULL || addr->ops != &tsocket_address_bsd_ops) {
		return NULL;
	}
	return addr->private_data;
}

static struct tsocket_address *tsocket_address_bsd_new(TALLOC_CTX *mem_ctx,
						       const void *sa,
						       socklen_t sa_socklen,
						       const char *location)
{
	struct tsocket_address *addr;
	struct tsocket_address_bsd *bsd;

	addr = tsocket_address_create(mem_ctx, &tsocket_address_bsd_ops,
				      &bsd, struct tsocket_address_bsd,
				      location);
	if (addr == NULL) {
		return NULL;
	}
	memcpy(&bsd->u, sa, sa_socklen);
	bsd->sa_socklen = sa_socklen;
	return addr;
}

struct tsocket_address *tsocket_address_bsd_wrap(TALLOC_CTX *mem_ctx,
						 const struct sockaddr *sa,
						 socklen_t sa_socklen)
{
	struct tsocket_address *addr = NULL;

	if (tsocket_address_bsd_from_sockaddr(mem_ctx, sa, sa_socklen,
					      &addr) != 0) {
		return NULL;
	}
	return addr;
}

static struct tsocket_address *tsocket_address_bsd_copy(
	const struct tsocket_address *addr, TALLOC_CTX *mem_ctx,
	const char *location)
{
	const struct tsocket_address_bsd *bsd = tsocket_address_bsd_data(addr);

	return tsocket_address_bsd_new(mem_ctx, &bsd->u, bsd->sa_socklen,
				       location);
}

/* "1.2.3.4", "::1" or "fe80::1%eth0" into buf; false if not inet. */
static bool tsocket_address_bsd_inet_ntop(const struct tsocket_address_bsd *bsd,
					  char *buf, size_t buflen)
{
	char ifname[IF_NAMESIZE];
	size_t len;

	switch (bsd->u.sa.sa_family) {
	case AF_INET:
		return inet_ntop(AF_INET, &bsd->u.in.sin_addr, buf,
				 buflen) != NULL;
	case AF_INET6:
		if (inet_ntop(AF_INET6, &bsd->u.in6.sin6_addr, buf,
			      buflen) == NULL) {
			return false;
		}
		if (bsd->u.in6.sin6_scope_id == 0) {
			return true;
		}
		len = strlen(buf);
		if (if_indextoname(bsd->u.in6.sin6_scope_id, ifname) != NULL) {
			snprintf(buf + len, buflen - len, "%%%s", ifname);
		} else {
			snprintf(buf + len, buflen - len, "%%%u",
				 (unsigned)bsd->u.in6.sin6_scope_id);
		}
		return true;
	default:
		return false;
	}
}

/* A unix address's path, always terminated even if the kernel's is not. */
static size_t tsocket_address_bsd_path_len(const struct tsocket_address_bsd *bsd)
{
	size_t max = bsd->sa_socklen - offsetof(struct sockaddr_un, sun_path);

	if (bsd->sa_socklen <= offsetof(struct sockaddr_un, sun_path)) {
		return 0;
	}
	return strnlen(bsd->u.un.sun_path, max);
}

static char *tsocket_address_bsd_string(const struct tsocket_address *addr,
					TALLOC_CTX *mem_ctx)
{
	const struct tsocket_address_bsd *bsd = tsocket_address_bsd_data(addr);
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
	const char *prefix;
	char *s;

	switch (bsd->u.sa.sa_family) {
	case AF_UNIX:
		s = talloc_asprintf(mem_ctx, "unix:%.*s",
				    (int)tsocket_address_bsd_path_len(bsd),
				    bsd->u.un.sun_path);
		break;
	case AF_INET:
	case AF_INET6:
		prefix = bsd->u.sa.sa_family == AF_INET ? "ipv4" : "ipv6";
		if (!tsocket_address_bsd_inet_ntop(bsd, host, sizeof(host))) {
			return NULL;
		}
		s = talloc_asprintf(mem_ctx, "%s:%s:%u", prefix, host,
				    tsocket_address_inet_port(addr));
		break;
	default:
		errno = EINVAL;
		return NULL;
	}
	if (s == NULL) {
		errno = ENOMEM;
	}
	return s;
}

/* ---------------------------------------------------------------- inet */

/* AF_UNSPEC for "ip", the family for "ipv4"/"ipv6", -1 if unknown. */
static int tsocket_family_from_string(const char *family)
{
	if (family == NULL) {
		return -1;
	}
	if (strcasecmp(family, "ip") == 0) {
		return AF_UNSPEC;
	}
	if (strcasecmp(family, "ipv4") == 0) {
		return AF_INET;
	}
	if (strcasecmp(family, "ipv6") == 0) {
		return AF_INET6;
	}
	return -1;
}

/* Parse the scope of "fe80::1%eth0" (a name or a number); 0 if unknown. */
static uint32_t tsocket_parse_scope(const char *scope)
{
	char *end;
	unsigned long v;

	if (scope[0] >= '0' && scope[0] <= '9') {
		errno = 0;
		v = strtoul(scope, &end, 10);
		if (*end != '\0' || errno != 0 || v == 0 || v > UINT32_MAX) {
			return 0;
		}
		return (uint32_t)v;
	}
	return if_nametoindex(scope);
}

/*
 * Parse a numeric address of the wanted family (AF_UNSPEC: either) into
 * bsd.  Returns 0 or an errno.
 */
static int tsocket_parse_inet(int want, const char *str, uint16_t port,
			      struct tsocket_address_bsd *bsd)
{
	char host[INET6_ADDRSTRLEN];
	const char *pct;
	size_t hostlen;

	memset(bsd, 0, sizeof(*bsd));
	if (want != AF_INET6 &&
	    inet_pton(AF_INET, str, &bsd->u.in.sin_addr) == 1) {
		bsd->u.in.sin_family = AF_INET;
		bsd->u.in.sin_port = htons(port);
		bsd->sa_socklen = sizeof(struct sockaddr_in);
		return 0;
	}
	if (want == AF_INET) {
		return EINVAL;
	}
	pct = strchr(str, '%');
	hostlen = pct != NULL ? (size_t)(pct - str) : strlen(str);
	if (hostlen >= sizeof(host)) {
		return EINVAL;
	}
	memcpy(host, str, hostlen);
	host[hostlen] = '\0';
	if (inet_pton(AF_INET6, host, &bsd->u.in6.sin6_addr) != 1) {
		return EINVAL;
	}
	if (pct != NULL) {
		bsd->u.in6.sin6_scope_id = tsocket_parse_scope(pct + 1);
		if (bsd->u.in6.sin6_scope_id == 0) {
			return EINVAL;
		}
	}
	bsd->u.in6.sin6_family = AF_INET6;
	bsd->u.in6.sin6_port = htons(port);
	bsd->sa_socklen = sizeof(struct sockaddr_in6);
	return 0;
}

int _tsocket_address_inet_from_strings(TALLOC_CTX *mem_ctx,
				       const char *family,
				       const char *addr_string,
				       uint16_t port,
				       struct tsocket_address **addr,
				       const char *location)
{
	struct tsocket_address_bsd parsed;
	struct tsocket_address *a;
	int want = tsocket_family_from_string(family);
	int err;

	if (want == -1) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (addr_string == NULL) {
		addr_string = want == AF_INET6 ? "::" : "0.0.0.0";
	}
	err = tsocket_parse_inet(want, addr_string, port, &parsed);
	if (err != 0) {
		errno = err;
		return -1;
	}
	a = tsocket_address_bsd_new(mem_ctx, &parsed.u, parsed.sa_socklen,
				    location);
	if (a == NULL) {
		return -1;
	}
	*addr = a;
	return 0;
}

/* A decimal port 0..65535 with nothing else around it. */
static bool tsocket_parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			return false;
		}
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535) {
			return false;
		}
	}
	*port = (uint16_t)v;
	return true;
}

int _tsocket_address_inet_from_hostport_strings(TALLOC_CTX *mem_ctx,
						const char *family,
						const char *host_port_addr,
						uint16_t default_port,
						struct tsocket_address **addr,
						const char *location)
{
	const char *s = host_port_addr;
	const char *host_end, *port_str = NULL, *colon;
	uint16_t port = default_port;
	char *host;
	int ret;

	if (s == NULL) {
		return _tsocket_address_inet_from_strings(mem_ctx, family,
				NULL, default_port, addr, location);
	}
	if (s[0] == '[') {
		/* "[v6]" or "[v6]:port" */
		s++;
		host_end = strchr(s, ']');
		if (host_end == NULL) {
			errno = EINVAL;
			return -1;
		}
		if (host_end[1] == ':') {
			port_str = host_end + 2;
		} else if (host_end[1] != '\0') {
			errno = EINVAL;
			return -1;
		}
	} else {
		/* one colon separates a port; more make a bare IPv6 address */
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			host_end = colon;
			port_str = colon + 1;
		} else {
			host_end = s + strlen(s);
		}
	}
	if (port_str != NULL && !tsocket_parse_port(port_str, &port)) {
		errno = EINVAL;
		return -1;
	}
	host = talloc_strndup(mem_ctx, s, (size_t)(host_end - s));
	if (host == NULL) {
		errno = ENOMEM;
		return -1;
	}
	ret = _tsocket_address_inet_from_strings(mem_ctx, family, host, port,
						 addr, location);
	talloc_free(host);
	return ret;
}

/* The inet address behind addr, or NULL with errno EINVAL. */
static const struct tsocket_address_bsd *tsocket_address_bsd_inet(
	const struct tsocket_address *addr)
{
	const struct tsocket_address_bsd *bsd = tsocket_address_bsd_data(addr);

	if (bsd == NULL || (bsd->u.sa.sa_family != AF_INET &&
			    bsd->u.sa.sa_family != AF_INET6)) {
		errno = EINVAL;
		return NULL;
	}
	return bsd;
}

bool tsocket_address_is_inet(const struct tsocket_address *addr,
			     const char *fam)
{
	const struct tsocket_address_bsd *bsd = tsocket_address_bsd_data(addr);
	int want = tsocket_family_from_string(fam);

	if (bsd == NULL || want == -1) {
		return false;
	}
	switch (bsd->u.sa.sa_family) {
	case AF_INET:
	case AF_INET6:
		return want == AF_UNSPEC || want == bsd->u.sa.sa_family;
	default:
		return false;
	}
}

char *tsocket_address_inet_addr_string(const struct tsocket_address *addr,
				       TALLOC_CTX *mem_ctx)
{
	const struct tsocket_address_bsd *bsd = tsocket_address_bsd_inet(addr);
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
	char *s;

	if (bsd == NULL || !tsocket_address_bsd_inet_ntop(bsd, host,
							  sizeof(host))) {
		return NULL;
	}
	s = talloc_strdup(mem_ctx, host);
	if (s == NULL) {
		errno = ENOMEM;
	}
	return s;
}

uint16_t tsocket_address_inet_port(const struct tsocket_address *addr)
{
	const struct tsocket_address_bsd *bsd = tsocket_address_bsd_inet(addr);

	if (bsd == NULL) {
		return 0;
	}
	if (bsd->u.sa.sa_family == AF_INET) {
		return ntohs(bsd->u.in.sin_port);
	}
	return ntohs(bsd->u.in6.sin6_port);
}

int tsocket_address_inet_set_port(struct tsocket_address *addr,
				  uint16_t port)
{
	struct tsocket_address_bsd *bsd =
		(struct tsocket_address_bsd *)tsocket_address_bsd_inet(addr);

	if (bsd == NULL) {
		return -1;
	}
	if (bsd->u.sa.sa_family == AF_INET) {
		bsd->u.in.sin_port = htons(port);
	} else {
		bsd->u.in6.sin6_port = htons(port);
	}
	return 0;
}

/* ---------------------------------------------------------------- unix */

bool tsocket_address_is_unix(const struct tsocket_address *addr)
{
	const struct tsocket_address_bsd *bsd = tsocket_address_bsd_data(addr);

	return bsd != NULL && bsd->u.sa.sa_family == AF_UNIX;
}

int _tsocket_address_unix_from_path(TALLOC_CTX *mem_ctx, const char *path,
				    struct tsocket_address **addr,
				    const char *location)
{
	struct sockaddr_un un;
	struct tsocket_address *a;
	size_t len;

	if (path == NULL) {
		path = "";
	}
	len = strlen(path);
	if (len >= sizeof(un.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, path, len);
	a = tsocket_address_bsd_new(mem_ctx, &un,
			offsetof(struct sockaddr_un, sun_path) + len + 1,
			location);
	if (a == NULL) {
		return -1;
	}
	*addr = a;
	return 0;
}

char *tsocket_address_unix_path(const struct tsocket_address *addr,
				TALLOC_CTX *mem_ctx)
{
	const struct tsocket_address_bsd *bsd = tsocket_address_bsd_data(addr);
	char *s;

	if (bsd == NULL || bsd->u.sa.sa_family != AF_UNIX) {
		errno = EINVAL;
		return NULL;
	}
	s = talloc_strndup(mem_ctx, bsd->u.un.sun_path,
			   tsocket_address_bsd_path_len(bsd));
	if (s == NULL) {
		errno = ENOMEM;
	}
	return s;
}

/* ---------------------------------------------------------------- sockaddr */

int _tsocket_address_bsd_from_sockaddr(TALLOC_CTX *mem_ctx,
				       const struct sockaddr *sa,
				       size_t sa_socklen,
				       struct tsocket_address **addr,
				       const char *location)
{
	struct tsocket_address *a;
	size_t need, max;

	if (sa == NULL || sa_socklen < sizeof(sa_family_t) ||
	    sa_socklen > sizeof(struct sockaddr_storage)) {
		errno = EINVAL;
		return -1;
	}
	switch (sa->sa_family) {
	case AF_INET:
		need = max = sizeof(struct sockaddr_in);
		break;
	case AF_INET6:
		need = max = sizeof(struct sockaddr_in6);
		break;
	case AF_UNIX:
		/* the kernel gives unbound peers just the family */
		need = sizeof(sa_family_t);
		max = sizeof(struct sockaddr_un);
		break;
	default:
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (sa_socklen < need) {
		errno = EINVAL;
		return -1;
	}
	if (sa_socklen > max) {
		/* callers often pass sizeof(struct sockaddr_storage) */
		sa_socklen = max;
	}
	a = tsocket_address_bsd_new(mem_ctx, sa, (socklen_t)sa_socklen,
				    location);
	if (a == NULL) {
		return -1;
	}
	*addr = a;
	return 0;
}

ssize_t tsocket_address_bsd_sockaddr(const struct tsocket_address *addr,
				     struct sockaddr *sa,
				     size_t sa_socklen)
{
	const struct tsocket_address_bsd *bsd = tsocket_address_bsd_data(addr);

	if (bsd == NULL || sa == NULL || sa_socklen < bsd->sa_socklen) {
		errno = EINVAL;
		return -1;
	}
	memset(sa, 0, sa_socklen);
	memcpy(sa, &bsd->u, bsd->sa_socklen);
	return bsd->sa_socklen;
}

bool tsocket_address_bsd_is_wildcard(const struct tsocket_address_bsd *a)
{
	switch (a->u.sa.sa_family) {
	case AF_INET:
		return a->u.in.sin_port == 0 &&
			a->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
	case AF_INET6:
		return a->u.in6.sin6_port == 0 &&
			IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
	case AF_UNIX:
		return tsocket_address_bsd_path_len(a) == 0;
	default:
		return false;
	}
}
