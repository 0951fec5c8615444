package flags

import "math/bits"

// bucket is Unleash's normalizedValue with seed 0 and normalizer 100: the
// stable rollout bucket 1..100 of id for the flag (Unleash's group id)
// name, murmur3_32(name + ":" + id) % 100 + 1. An id is in a rollout of p
// percent when its bucket is ≤ p, so an id in at p stays in at every
// larger p.
func bucket(name, id string) uint32 {
	// The key is assembled on the stack when it fits: a warm Enabled
	// allocates nothing.
	var buf [160]byte
	n := len(name) + 1 + len(id)
	var key []byte
	if n <= len(buf) {
		key = buf[:0]
	} else {
		key = make([]byte, 0, n)
	}
	key = append(key, name...)
	key = append(key, ':')
	key = append(key, id...)
	return murmur3(key, 0)%100 + 1
}

// murmur3 is MurmurHash3's x86 32-bit variant (Austin Appleby's
// MurmurHash3_x86_32), the hash of Unleash's clients.
func murmur3(data []byte, seed uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	n := len(data)
	i := 0
	for ; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch n - i {
	case 3:
		k ^= uint32(data[i+2]) << 16
		fallthrough
	case 2:
		k ^= uint32(data[i+1]) << 8
		fallthrough
	case 1:
		k ^= uint32(data[i])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
