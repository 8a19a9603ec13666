/**
 * What Fetch accepts in a header, checked the same way wherever the kernel builds headers without
 * `Headers` (lazy-headers.ts, lazy-response.ts).
 */

/** An RFC 9110 token: a valid header name or method. */
export const tokenShape = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Fetch refuses NUL, CR and LF in a header value. */
export const forbiddenInValue = /[\0\r\n]/;
