// Package web is the portal: server-rendered HTML on the NHS.UK design
// system that works without JavaScript. Handlers are thin — parse the form,
// call one domain service, then redirect (post/redirect/get) or render. Every
// form carries a CSRF token; every page checks who may see it through the
// domain services, which refuse what a role may not do.
package web
