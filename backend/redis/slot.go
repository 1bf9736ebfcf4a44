package redisbackend

import "strings"

// clusterSlots is the number of Redis Cluster hash slots.
const clusterSlots = 16384

// keySlot returns the Cluster hash slot of key, by Redis' rule: the CRC16
// (XMODEM) of the key's hash tag, the text between its first '{' and the
// next '}' when that is not empty, or else of the whole key, modulo 16384.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % clusterSlots
}
