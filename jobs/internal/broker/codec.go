package broker

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// A job's fields that never change after enqueue (task name, max attempts,
// user, workspace, payload) are stored as one hash field "m" rather than
// five: each field and each script argument costs Redis time on every
// enqueue and every fetch, and a packed value halves the work of the
// enqueue script.
//
// Layout: version byte 1, then uvarint length + bytes of the name, uvarint
// max attempts (0: not set at enqueue), uvarint length + bytes of the user
// id and of the workspace id, then the payload JSON to the end. Version 2,
// written only for a job that carries a trace context, has uvarint length
// + bytes of the W3C traceparent after the workspace id; a job without one
// stays version 1, which every worker reads.
const (
	codecVersion      = 1
	codecVersionTrace = 2
)

var errBadJob = errors.New("jobs: stored job is not in a known format")

// encodeJob packs the fixed fields of m.
func encodeJob(m *Message) []byte {
	n := 1 + 4*binary.MaxVarintLen64 + binary.MaxVarintLen64 + len(m.Name) + len(m.UserID) + len(m.WorkspaceID) + len(m.TraceParent) + len(m.Payload)
	b := make([]byte, 0, n)
	if m.TraceParent != "" {
		b = append(b, codecVersionTrace)
	} else {
		b = append(b, codecVersion)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Name)))
	b = append(b, m.Name...)
	b = binary.AppendUvarint(b, uint64(max(m.MaxAttempts, 0)))
	b = binary.AppendUvarint(b, uint64(len(m.UserID)))
	b = append(b, m.UserID...)
	b = binary.AppendUvarint(b, uint64(len(m.WorkspaceID)))
	b = append(b, m.WorkspaceID...)
	if m.TraceParent != "" {
		b = binary.AppendUvarint(b, uint64(len(m.TraceParent)))
		b = append(b, m.TraceParent...)
	}
	return append(b, m.Payload...)
}

// decodedJob is what encodeJob packed.
type decodedJob struct {
	Name, UserID, WorkspaceID string
	TraceParent               string
	MaxAttempts               int
	Payload                   string
}

// decodeJob unpacks a value of encodeJob.
func decodeJob(s string) (decodedJob, error) {
	var d decodedJob
	if len(s) == 0 || (s[0] != codecVersion && s[0] != codecVersionTrace) {
		return d, errBadJob
	}
	traced := s[0] == codecVersionTrace
	s = s[1:]
	str := func() (string, bool) {
		n, k := uvarint(s)
		if k <= 0 || n > uint64(len(s)-k) {
			return "", false
		}
		v := s[k : k+int(n)]
		s = s[k+int(n):]
		return v, true
	}
	var ok bool
	if d.Name, ok = str(); !ok {
		return d, errBadJob
	}
	n, k := uvarint(s)
	if k <= 0 || n > 1<<31 {
		return d, errBadJob
	}
	d.MaxAttempts = int(n)
	s = s[k:]
	if d.UserID, ok = str(); !ok {
		return d, errBadJob
	}
	if d.WorkspaceID, ok = str(); !ok {
		return d, errBadJob
	}
	if traced {
		if d.TraceParent, ok = str(); !ok {
			return d, errBadJob
		}
	}
	d.Payload = s
	return d, nil
}

// uvarint is binary.Uvarint over a string, without copying it.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1)
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// expandJob adds the packed fields of a job hash as the fields name, max,
// user, ws and payload; a field already in the hash (max, once the job
// ran) wins.
func expandJob(h map[string]string) {
	p, ok := h["m"]
	if !ok {
		return
	}
	d, err := decodeJob(p)
	if err != nil {
		return
	}
	delete(h, "m")
	set := func(k, v string) {
		if _, ok := h[k]; !ok && v != "" {
			h[k] = v
		}
	}
	set("name", d.Name)
	if d.MaxAttempts > 0 {
		set("max", strconv.Itoa(d.MaxAttempts))
	}
	set("user", d.UserID)
	set("ws", d.WorkspaceID)
	set("payload", d.Payload)
}
