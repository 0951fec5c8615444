package appkernel

import (
	"net/http"

	"appkernel/admin"
	"appkernel/db"
)

// adminCapture holds what wireAdminCapture gives routes(): the metering
// middleware (after authentication) and the admins' read routes (/admin).
type adminCapture struct {
	metering func(http.Handler) http.Handler
	routes   http.Handler
}

// wireAdminCapture plugs audit and usage capture into the kernel: the
// audit observer on the entity store, the metering middleware (routes()
// puts it right after authentication, so events carry the identity), and,
// with auth on, the admins' /admin/audit and /admin/usage and the owners'
// /workspaces/{id}/usage reading adminDB. sink takes the events (the admin
// recorder); with a nil sink it does nothing. It must run before routes():
// workspace routes are extended before they are built.
func (k *Kernel) wireAdminCapture(sink admin.Sink, adminDB *db.Store) {
	if sink == nil {
		return
	}
	app := k.cfg.Name
	if k.store != nil {
		k.store.OnChange(admin.AuditObserver(app, sink))
	}
	k.admin.metering = admin.Metering(app, sink)
	if adminDB != nil && k.auth != nil {
		rc := admin.RoutesConfig{DB: adminDB, App: app}
		k.admin.routes = admin.Routes(rc)
		if k.ws != nil {
			k.ws.Extend(admin.WorkspaceRoutes(rc, k.ws))
		}
	}
}
