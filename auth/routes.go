package auth

import (
	"net"
	"net/http"

	"github.com/go-chi/chi/v5"

	"appkernel/middleware"
)

// Routes returns the /auth router:
//
//	POST /register  {"email","password","invite_token"?} → 201 Tokens
//	POST /login     {"email","password","device_token"?} → 200 Tokens
//	POST /refresh   {"refresh_token"}                    → 200 Tokens
//	POST /logout    {"refresh_token"} or {"all":true}    → 204 (all needs a user)
//	GET  /me                                             → 200 User
//	POST /password  {"current_password","new_password"}  → 204
//
// Register and login answer a device token in the body and in the
// DeviceCookie (HttpOnly, Secure, SameSite=Strict, for the router's
// path); login reads it back from the body's "device_token" or else the
// cookie. Both routes are limited per client IP (Config.PerIPLimit).
//
// The kernel mounts it at /auth behind Authenticate; it also works alone.
func (s *Service) Routes() http.Handler {
	r := chi.NewRouter()
	r.With(s.limitPerIP).Post("/register", s.handleRegister)
	r.With(s.limitPerIP).Post("/login", s.handleLogin)
	r.Post("/refresh", s.handleRefresh)
	r.Group(func(r chi.Router) {
		r.Use(s.ensureAuthenticated)
		r.Post("/logout", s.handleLogout)
		r.With(RequireUser).Get("/me", s.handleMe)
		r.With(RequireUser).Post("/password", s.handlePassword)
	})
	return r
}

func (s *Service) handleRegister(w http.ResponseWriter, r *http.Request) {
	var in RegisterInput
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	t, err := s.Register(r.Context(), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	noStore(w)
	setDeviceCookie(w, r, t.DeviceToken)
	middleware.WriteJSON(w, http.StatusCreated, t)
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in LoginInput
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	in.ClientIP = clientIP(r)
	in.DeviceToken = deviceTokenOf(r, in.DeviceToken)
	t, err := s.Login(r.Context(), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	noStore(w)
	setDeviceCookie(w, r, t.DeviceToken)
	middleware.WriteJSON(w, http.StatusOK, t)
}

type refreshInput struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Service) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var in refreshInput
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	t, err := s.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		writeError(w, r, err)
		return
	}
	noStore(w)
	middleware.WriteJSON(w, http.StatusOK, t)
}

type logoutInput struct {
	RefreshToken string `json:"refresh_token"`
	All          bool   `json:"all"`
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	var in logoutInput
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	var err error
	switch {
	case in.All:
		u, ok := UserFrom(r.Context())
		if !ok {
			writeError(w, r, ErrUnauthorized)
			return
		}
		if p, _ := PrincipalFrom(r.Context()); p.Type != PrincipalUser {
			writeError(w, r, withMsg(ErrForbidden, "ending every session needs a user's access token"))
			return
		}
		err = s.LogoutAll(r.Context(), u.ID)
	case in.RefreshToken != "":
		err = s.Logout(r.Context(), in.RefreshToken)
	default:
		middleware.WriteErrorCode(w, r, http.StatusUnprocessableEntity, "validation_error",
			`give "refresh_token" to end one session or "all": true to end every session`)
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFrom(r.Context())
	middleware.WriteJSON(w, http.StatusOK, u)
}

type passwordInput struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *Service) handlePassword(w http.ResponseWriter, r *http.Request) {
	var in passwordInput
	if err := middleware.DecodeJSON(r, &in); err != nil {
		middleware.WriteError(w, r, err)
		return
	}
	p, _ := PrincipalFrom(r.Context())
	if p.Type != PrincipalUser {
		writeError(w, r, withMsg(ErrForbidden, "changing the password needs a user's access token"))
		return
	}
	u, _ := UserFrom(r.Context())
	if err := s.ChangePassword(r.Context(), u.ID, sessionFrom(r.Context()), in.CurrentPassword, in.NewPassword, clientIP(r)); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// clientIP is the host of RemoteAddr, which the kernel's RealIP middleware
// has set from trusted proxies' headers.
func clientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}
