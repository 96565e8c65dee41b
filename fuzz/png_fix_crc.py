import sys, zlib, struct
d = bytearray(open(sys.argv[1], 'rb').read())
i = 8
while i + 8 <= len(d):
    n = struct.unpack('>I', d[i:i+4])[0]
    end = i + 8 + n
    if end + 4 > len(d):
        print('chunk', bytes(d[i+4:i+8]), 'truncated at', i); break
    crc = zlib.crc32(bytes(d[i+4:end])) & 0xffffffff
    print(bytes(d[i+4:i+8]), n, 'crc ok' if d[end:end+4] == struct.pack('>I', crc) else 'crc fixed')
    d[end:end+4] = struct.pack('>I', crc)
    i = end + 4
open(sys.argv[2], 'wb').write(d)
