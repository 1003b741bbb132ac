-- SPDX-License-Identifier: GPL-2.0
--
-- Wireshark dissector for gkm, wire format version 1
-- (Documentation/protocol.rst, uapi/linux/gkm_wire.h).
--
--   gkm     the rekey datagram (UDP, port 4079 by default: the control_port
--           of Documentation/examples/gkmd.conf; Edit > Preferences >
--           Protocols > GKM to change it) and the registration payload
--           (same header, type 2, plaintext TLV body).
--   gkmreg  the registration channel of protocol.rst section 8: JOIN/LEAVE
--           request and response, whose data is a registration payload. It
--           runs inside TLS 1.3 (TCP 4078, decoded as TLS): with the TLS
--           keys (SSLKEYLOGFILE and the TLS protocol's "(Pre)-Master-Secret
--           log filename"), the decrypted stream on that port is handed to
--           gkmreg.
--
-- Heuristics on UDP, TCP and decrypted TLS recognise the "GKMR", "GKMQ" and
-- "GKMA" magics, so raw payloads (e.g. a file wrapped by text2pcap) decode
-- without configuration; "Decode As..." offers gkm for UDP and gkmreg for
-- TCP/TLS ports too.
--
-- The rekey body is AES-256-GCM ciphertext: only its length, the GCM tag and
-- the signature block are shown (its algorithm; for ECDSA P-256, r and s of
-- the 64-byte r || s encoding, protocol.rst section 2.1). In a registration payload every TLV is
-- decoded, but key material (PLAIN_KEY bytes, RFC 3394 output of
-- WRAPPED_KEY) is NEVER shown: only ids, versions, usage and lengths.
--
-- Install: copy (or symlink) this file to ~/.local/lib/wireshark/plugins/
-- (per user) or /usr/lib/x86_64-linux-gnu/wireshark/plugins/ (all users),
-- or run: tshark -X lua_script:/usr/share/gkm/wireshark/gkm.lua ...

local HDR_LEN = 36
local TAG_LEN = 16
local MAGIC_REKEY = 0x474b4d52	-- "GKMR"
local MAGIC_REQ = 0x474b4d51	-- "GKMQ"
local MAGIC_RESP = 0x474b4d41	-- "GKMA"
local MAX_REG_LEN = 8192

local gkm = Proto("gkm", "gkm Group Key Management")
local gkmreg = Proto("gkmreg", "gkm Registration Channel")

-- --- value strings -------------------------------------------------------

local types = { [1] = "REKEY", [2] = "REGISTRATION", [3] = "STATUS" }
local sig_algs = {
	[0] = "none", [1] = "RSA PKCS#1 v1.5 SHA-256",
	[2] = "ECDSA P-256 SHA-256", [3] = "Ed25519 (reserved)",
}
local tlv_types = {
	[1] = "REKEY_SA", [2] = "DATA_SA", [3] = "WRAPPED_KEY", [4] = "PLAIN_KEY",
	[5] = "DELETE", [6] = "NEXT_SPI", [7] = "MEMBER", [8] = "GCKS_CERT",
	[9] = "MSG_FLAGS",
}
local usages = { [1] = "KWK", [2] = "GROUP", [3] = "TEK" }
local transforms = { [1] = "AES-GCM-16 128-bit", [2] = "AES-GCM-16 256-bit" }
local delete_kinds = { [1] = "SPI", [2] = "KEY" }
local ops = { [1] = "JOIN", [2] = "LEAVE" }
local statuses = {
	[0] = "OK", [1] = "UNAUTHORIZED", [2] = "UNKNOWN_GROUP", [3] = "BAD_REQUEST",
	[4] = "NOT_MEMBER", [5] = "BUSY", [6] = "INTERNAL",
}

-- --- fields ---------------------------------------------------------------

local f = {
	magic = ProtoField.uint32("gkm.magic", "Magic", base.HEX),
	version = ProtoField.uint8("gkm.version", "Version", base.DEC),
	type = ProtoField.uint8("gkm.type", "Type", base.DEC, types),
	flags = ProtoField.uint16("gkm.flags", "Flags", base.HEX),
	group = ProtoField.uint32("gkm.group", "Group", base.DEC),
	kek_id = ProtoField.uint32("gkm.kek_id", "KEK id", base.DEC),
	kek_ver = ProtoField.uint32("gkm.kek_ver", "KEK version", base.DEC),
	msg_id = ProtoField.uint64("gkm.msg_id", "Message id", base.DEC),
	frag_idx = ProtoField.uint8("gkm.frag_idx", "Fragment index", base.DEC),
	frag_cnt = ProtoField.uint8("gkm.frag_cnt", "Fragment count", base.DEC),
	body_len = ProtoField.uint16("gkm.body_len", "Body length", base.DEC),
	sig_alg = ProtoField.uint8("gkm.sig_alg", "Signature algorithm", base.DEC, sig_algs),
	reserved = ProtoField.uint8("gkm.reserved", "Reserved", base.HEX),
	sig_len = ProtoField.uint16("gkm.sig_len", "Signature length", base.DEC),

	ciphertext = ProtoField.bytes("gkm.ciphertext", "Ciphertext (AES-256-GCM)"),
	ciphertext_len = ProtoField.uint32("gkm.ciphertext_len", "Ciphertext length", base.DEC),
	tag = ProtoField.bytes("gkm.tag", "GCM tag"),
	signature = ProtoField.bytes("gkm.signature", "Signature"),
	signature_alg = ProtoField.uint8("gkm.signature.alg", "Algorithm", base.DEC, sig_algs),
	signature_len = ProtoField.uint32("gkm.signature.len", "Length", base.DEC),
	signature_r = ProtoField.bytes("gkm.signature.r", "ECDSA r"),
	signature_s = ProtoField.bytes("gkm.signature.s", "ECDSA s"),
	trailing = ProtoField.bytes("gkm.trailing", "Trailing bytes"),

	tlv_type = ProtoField.uint16("gkm.tlv.type", "Type", base.DEC, tlv_types, 0x7fff),
	tlv_critical = ProtoField.bool("gkm.tlv.critical", "Critical", 16, nil, 0x8000),
	tlv_len = ProtoField.uint16("gkm.tlv.len", "Length", base.DEC),
	tlv_value = ProtoField.bytes("gkm.tlv.value", "Value (unknown type)"),

	rsa_kek_id = ProtoField.uint32("gkm.rekey_sa.kek_id", "KEK id", base.DEC),
	rsa_kek_ver = ProtoField.uint32("gkm.rekey_sa.kek_ver", "KEK version", base.DEC),
	rsa_lifetime = ProtoField.uint32("gkm.rekey_sa.lifetime", "Lifetime (s)", base.DEC),
	rsa_dtd = ProtoField.uint32("gkm.rekey_sa.dtd", "Deactivation delay (s)", base.DEC),

	sa_spi = ProtoField.uint32("gkm.data_sa.spi", "SPI", base.HEX_DEC),
	sa_transform = ProtoField.uint8("gkm.data_sa.transform", "Transform", base.DEC, transforms),
	sa_reserved = ProtoField.uint8("gkm.data_sa.reserved", "Reserved", base.HEX),
	sa_flags = ProtoField.uint16("gkm.data_sa.flags", "Flags", base.HEX),
	sa_flag_sender = ProtoField.bool("gkm.data_sa.flags.sender", "SENDER", 16, nil, 0x0001),
	sa_flag_replay = ProtoField.bool("gkm.data_sa.flags.replay", "REPLAY", 16, nil, 0x0002),
	sa_tek_id = ProtoField.uint32("gkm.data_sa.tek_id", "TEK id", base.DEC),
	sa_tek_ver = ProtoField.uint32("gkm.data_sa.tek_ver", "TEK version", base.DEC),
	sa_soft = ProtoField.uint32("gkm.data_sa.soft", "Soft lifetime (s)", base.DEC),
	sa_hard = ProtoField.uint32("gkm.data_sa.hard", "Hard lifetime (s)", base.DEC),
	sa_atd = ProtoField.uint32("gkm.data_sa.atd", "Activation delay (s)", base.DEC),
	sa_dtd = ProtoField.uint32("gkm.data_sa.dtd", "Deactivation delay (s)", base.DEC),
	sa_sender_id = ProtoField.uint32("gkm.data_sa.sender_id", "Sender id", base.DEC),

	key_id = ProtoField.uint32("gkm.key.id", "Key id", base.DEC),
	key_ver = ProtoField.uint32("gkm.key.ver", "Key version", base.DEC),
	key_wrap_id = ProtoField.uint32("gkm.key.wrap_id", "Wrapping key id", base.DEC),
	key_wrap_ver = ProtoField.uint32("gkm.key.wrap_ver", "Wrapping key version", base.DEC),
	key_usage = ProtoField.uint8("gkm.key.usage", "Usage", base.DEC, usages),
	key_len = ProtoField.uint8("gkm.key.len", "Key length", base.DEC),
	key_reserved = ProtoField.uint16("gkm.key.reserved", "Reserved", base.HEX),
	key_plain = ProtoField.bool("gkm.key.plain", "Plain (registration) key"),
	key_material_len = ProtoField.uint32("gkm.key.material_len",
		"Key material length (bytes not shown)", base.DEC),

	del_kind = ProtoField.uint8("gkm.delete.kind", "Kind", base.DEC, delete_kinds),
	del_reserved = ProtoField.uint24("gkm.delete.reserved", "Reserved", base.HEX),
	del_value = ProtoField.uint32("gkm.delete.value", "Value", base.DEC),

	next_spi = ProtoField.uint32("gkm.next_spi", "Next SPI", base.HEX_DEC),

	msg_flags = ProtoField.uint32("gkm.msg_flags", "Message flags", base.HEX),
	msg_flag_every = ProtoField.bool("gkm.msg_flags.every_member",
		"EVERY_MEMBER (each fragment is for every member)", 32, nil, 0x00000001),
	-- Bits version 1 does not know: advisory, members ignore them (protocol.rst 2.11).
	msg_flag_unknown = ProtoField.uint32("gkm.msg_flags.unknown",
		"Unknown bits (advisory: ignored by members)", base.HEX),

	mb_leaf_id = ProtoField.uint32("gkm.member.leaf_id", "Leaf key id", base.DEC),
	mb_sender_id = ProtoField.uint32("gkm.member.sender_id", "Sender id", base.DEC),
	mb_role = ProtoField.uint16("gkm.member.role", "Role", base.HEX),
	mb_role_recv = ProtoField.bool("gkm.member.role.receiver", "RECEIVER", 16, nil, 0x0001),
	mb_role_send = ProtoField.bool("gkm.member.role.sender", "SENDER", 16, nil, 0x0002),
	mb_reserved = ProtoField.uint16("gkm.member.reserved", "Reserved", base.HEX),

	cert_len = ProtoField.uint32("gkm.cert.len", "GCKS certificate length (DER)", base.DEC),
	cert = ProtoField.bytes("gkm.cert", "GCKS certificate (DER)"),
}
gkm.fields = f

local r = {
	magic = ProtoField.uint32("gkmreg.magic", "Magic", base.HEX),
	version = ProtoField.uint8("gkmreg.version", "Version", base.DEC),
	op = ProtoField.uint8("gkmreg.op", "Operation", base.DEC, ops),
	role = ProtoField.uint16("gkmreg.role", "Role", base.HEX),
	role_recv = ProtoField.bool("gkmreg.role.receiver", "RECEIVER", 16, nil, 0x0001),
	role_send = ProtoField.bool("gkmreg.role.sender", "SENDER", 16, nil, 0x0002),
	group = ProtoField.uint32("gkmreg.group", "Group", base.DEC),
	reserved = ProtoField.uint32("gkmreg.reserved", "Reserved", base.HEX),
	status = ProtoField.uint8("gkmreg.status", "Status", base.DEC, statuses),
	reserved16 = ProtoField.uint16("gkmreg.reserved16", "Reserved", base.HEX),
	length = ProtoField.uint32("gkmreg.length", "Data length", base.DEC),
	reason = ProtoField.string("gkmreg.reason", "Reason"),
}
gkmreg.fields = r

local ef = {
	bad_magic = ProtoExpert.new("gkm.bad_magic", "Not a gkm message (magic)",
		expert.group.MALFORMED, expert.severity.ERROR),
	bad_len = ProtoExpert.new("gkm.bad_length", "Length does not match the header",
		expert.group.MALFORMED, expert.severity.ERROR),
	bad_tlv = ProtoExpert.new("gkm.bad_tlv", "Malformed TLV",
		expert.group.MALFORMED, expert.severity.ERROR),
	nonzero = ProtoExpert.new("gkm.nonzero_reserved", "Must be zero in version 1",
		expert.group.PROTOCOL, expert.severity.WARN),
}
gkm.experts = { ef.bad_magic, ef.bad_len, ef.bad_tlv, ef.nonzero }

-- --- preferences ----------------------------------------------------------

gkm.prefs.udp_port = Pref.uint("Rekey UDP port", 4079,
	"UDP port of rekey datagrams (gkmd.conf control_port)")
gkm.prefs.heuristic = Pref.bool("Try heuristic", true,
	"Recognise gkm messages on any UDP/TCP port by their magic")
gkmreg.prefs.tcp_port = Pref.uint("Registration TCP port", 4078,
	"TCP port of the TLS registration channel (gkmd.conf listen_port)")

-- --- helpers --------------------------------------------------------------

local function zero_check(item, range)
	for i = 0, range:len() - 1 do
		if range(i, 1):uint() ~= 0 then
			item:add_proto_expert_info(ef.nonzero)
			return
		end
	end
end

local function add_role(tree, fld, f_recv, f_send, range)
	local it = tree:add(fld, range)
	it:add(f_recv, range)
	it:add(f_send, range)
	return it
end

-- One TLV value; @t the masked type, @v its value range (may be nil when
-- the length is 0). Key material is never added to the tree.
local function dissect_tlv_value(t, v, vlen, tree, critical)
	if t == 1 and vlen == 16 then
		tree:add(f.rsa_kek_id, v(0, 4))
		tree:add(f.rsa_kek_ver, v(4, 4))
		tree:add(f.rsa_lifetime, v(8, 4))
		tree:add(f.rsa_dtd, v(12, 4))
		tree:append_text(string.format(": KEK %u v%u", v(0, 4):uint(), v(4, 4):uint()))
	elseif t == 2 and vlen == 36 then
		tree:add(f.sa_spi, v(0, 4))
		tree:add(f.sa_transform, v(4, 1))
		zero_check(tree:add(f.sa_reserved, v(5, 1)), v(5, 1))
		local fl = tree:add(f.sa_flags, v(6, 2))
		fl:add(f.sa_flag_sender, v(6, 2))
		fl:add(f.sa_flag_replay, v(6, 2))
		tree:add(f.sa_tek_id, v(8, 4))
		tree:add(f.sa_tek_ver, v(12, 4))
		tree:add(f.sa_soft, v(16, 4))
		tree:add(f.sa_hard, v(20, 4))
		tree:add(f.sa_atd, v(24, 4))
		tree:add(f.sa_dtd, v(28, 4))
		tree:add(f.sa_sender_id, v(32, 4))
		tree:append_text(string.format(": SPI 0x%08x, TEK %u v%u", v(0, 4):uint(),
			v(8, 4):uint(), v(12, 4):uint()))
	elseif (t == 3 and vlen >= 20) or (t == 4 and vlen >= 12) then
		local hl = (t == 3) and 20 or 12
		tree:add(f.key_id, v(0, 4))
		tree:add(f.key_ver, v(4, 4))
		local uo = 8
		if t == 3 then
			tree:add(f.key_wrap_id, v(8, 4))
			tree:add(f.key_wrap_ver, v(12, 4))
			uo = 16
		end
		tree:add(f.key_usage, v(uo, 1))
		tree:add(f.key_len, v(uo + 1, 1))
		zero_check(tree:add(f.key_reserved, v(uo + 2, 2)), v(uo + 2, 2))
		tree:add(f.key_plain, t == 4):set_generated()
		local ml = vlen - hl
		-- Only the length of the material: a generated item with no range,
		-- so that not even the field's byte highlighting exposes it.
		tree:add(f.key_material_len, ml):set_generated()
		local usage = usages[v(uo, 1):uint()] or tostring(v(uo, 1):uint())
		if t == 3 then
			tree:append_text(string.format(": key %u v%u %s (%u bytes) under %u v%u",
				v(0, 4):uint(), v(4, 4):uint(), usage, v(uo + 1, 1):uint(),
				v(8, 4):uint(), v(12, 4):uint()))
		else
			tree:append_text(string.format(": key %u v%u %s (%u bytes)",
				v(0, 4):uint(), v(4, 4):uint(), usage, v(uo + 1, 1):uint()))
		end
	elseif t == 5 and vlen == 8 then
		tree:add(f.del_kind, v(0, 1))
		zero_check(tree:add(f.del_reserved, v(1, 3)), v(1, 3))
		tree:add(f.del_value, v(4, 4))
		tree:append_text(string.format(": %s %u",
			delete_kinds[v(0, 1):uint()] or "?", v(4, 4):uint()))
	elseif t == 6 and vlen == 4 then
		tree:add(f.next_spi, v(0, 4))
		tree:append_text(string.format(": 0x%08x", v(0, 4):uint()))
	elseif t == 7 and vlen == 12 then
		tree:add(f.mb_leaf_id, v(0, 4))
		tree:add(f.mb_sender_id, v(4, 4))
		add_role(tree, f.mb_role, f.mb_role_recv, f.mb_role_send, v(8, 2))
		zero_check(tree:add(f.mb_reserved, v(10, 2)), v(10, 2))
		tree:append_text(string.format(": leaf %u, sender id %u",
			v(0, 4):uint(), v(4, 4):uint()))
	elseif t == 9 and vlen == 4 then
		-- Rekey bodies only (inside the AEAD): seen when decrypted.
		local fl = tree:add(f.msg_flags, v(0, 4))
		fl:add(f.msg_flag_every, v(0, 4))
		-- Not an error: a later GCKS may set advisory bits. Sent
		-- critical, the word is strict and members refuse them.
		local flags = v(0, 4):uint()
		if flags > 1 then	-- a bit above EVERY_MEMBER
			local u = fl:add(f.msg_flag_unknown, v(0, 4), flags - flags % 2)
			if critical then
				u:add_proto_expert_info(ef.bad_tlv,
					"unknown bits in a critical MSG_FLAGS: members refuse it")
			end
		end
		tree:append_text(string.format(": 0x%08x", v(0, 4):uint()))
	elseif t == 8 then
		if v then
			tree:add(f.cert_len, v, vlen)
			tree:add(f.cert, v)
		else
			tree:add(f.cert_len, 0):set_generated()
			tree:add_proto_expert_info(ef.bad_tlv, "empty GCKS_CERT")
		end
		tree:append_text(string.format(": %u bytes", vlen))
	elseif tlv_types[t] then
		tree:add_proto_expert_info(ef.bad_tlv,
			string.format("%s with a value of %u bytes", tlv_types[t], vlen))
	elseif v then
		tree:add(f.tlv_value, v)
	end
end

local function dissect_tlvs(buf, tree)
	local off, n = 0, 0
	local len = buf:len()
	while off < len do
		if len - off < 4 then
			tree:add_proto_expert_info(ef.bad_tlv, "body ends inside a TLV header")
			return n
		end
		local rawt = buf(off, 2):uint()
		local t = rawt % 0x8000
		local vlen = buf(off + 2, 2):uint()
		local avail = math.min(vlen, len - off - 4)
		local st = tree:add(gkm, buf(off, 4 + avail),
			"TLV " .. (tlv_types[t] or ("type " .. t)))
		st:add(f.tlv_type, buf(off, 2))
		st:add(f.tlv_critical, buf(off, 2))
		st:add(f.tlv_len, buf(off + 2, 2))
		if vlen > len - off - 4 then
			st:add_proto_expert_info(ef.bad_tlv, "value runs past the end of the body")
			return n
		end
		local v = (vlen > 0) and buf(off + 4, vlen) or nil
		dissect_tlv_value(t, v, vlen, st, rawt >= 0x8000)
		off = off + 4 + vlen
		n = n + 1
	end
	return n
end

-- A whole gkm message (rekey datagram, status datagram or registration
-- payload) in @buf.
-- Returns the number of bytes it consumed.

-- The signature block: @slen bytes at @off. ECDSA P-256 travels as r || s,
-- 32 bytes each (protocol.rst section 2.1); any other length is flagged.
local function add_signature(tree, buf, off, slen)
	local alg = buf(32, 1):uint()
	local s = tree:add(f.signature, buf(off, slen))
	s:add(f.signature_alg, buf(32, 1))
	s:add(f.signature_len, slen):set_generated()
	if alg == 2 then
		s:append_text(" (ECDSA P-256, r || s)")
		if slen == 64 and buf(34, 2):uint() == 64 then
			s:add(f.signature_r, buf(off, 32))
			s:add(f.signature_s, buf(off + 32, 32))
		else
			s:add_proto_expert_info(ef.bad_len,
				string.format("ECDSA P-256 signature of %u bytes (r || s is 64)",
					buf(34, 2):uint()))
		end
	end
end
local function dissect_message(buf, pinfo, tree)
	local len = buf:len()
	if len < HDR_LEN then return 0 end
	local ti = tree:add(gkm, buf(0, len))
	local h = ti:add(gkm, buf(0, HDR_LEN), "Header")
	local mi = h:add(f.magic, buf(0, 4))
	if buf(0, 4):uint() ~= MAGIC_REKEY then mi:add_proto_expert_info(ef.bad_magic) end
	h:add(f.version, buf(4, 1))
	h:add(f.type, buf(5, 1))
	zero_check(h:add(f.flags, buf(6, 2)), buf(6, 2))
	h:add(f.group, buf(8, 4))
	h:add(f.kek_id, buf(12, 4))
	h:add(f.kek_ver, buf(16, 4))
	h:add(f.msg_id, buf(20, 8))
	h:add(f.frag_idx, buf(28, 1))
	h:add(f.frag_cnt, buf(29, 1))
	h:add(f.body_len, buf(30, 2))
	h:add(f.sig_alg, buf(32, 1))
	zero_check(h:add(f.reserved, buf(33, 1)), buf(33, 1))
	h:add(f.sig_len, buf(34, 2))

	local typ = buf(5, 1):uint()
	local group = buf(8, 4):uint()
	local msg_id = buf(20, 8):uint64()
	local body_len = buf(30, 2):uint()
	local sig_len = buf(34, 2):uint()

	if typ == 2 then
		-- Registration payload: header || plaintext TLV body.
		local total = HDR_LEN + body_len
		ti:append_text(string.format(", Registration, group %u, msg id %s", group,
			tostring(msg_id)))
		pinfo.cols.info:append(string.format("Registration group=%u msg_id=%s ",
			group, tostring(msg_id)))
		if total > len then
			ti:add_proto_expert_info(ef.bad_len,
				string.format("body_len %u but only %u body bytes", body_len, len - HDR_LEN))
			return len
		end
		local b = ti:add(gkm, buf(HDR_LEN, body_len), "Body (plaintext TLVs)")
		local n = body_len > 0 and dissect_tlvs(buf(HDR_LEN, body_len):tvb(), b) or 0
		b:append_text(string.format(", %u TLVs", n))
		if sig_len ~= 0 then
			ti:add_proto_expert_info(ef.bad_len, "registration with a non-zero sig_len")
		end
		return total
	end

	if typ == 3 then
		-- Group status (protocol.rst section 9): header || signature, no
		-- body and no tag; msg_id is the last message sent in full.
		local total = HDR_LEN + body_len + sig_len
		ti:append_text(string.format(", Status, group %u, last msg id %s, KEK %u v%u",
			group, tostring(msg_id), buf(12, 4):uint(), buf(16, 4):uint()))
		pinfo.cols.info:append(string.format("Status group=%u msg_id=%s KEK=%u v%u ",
			group, tostring(msg_id), buf(12, 4):uint(), buf(16, 4):uint()))
		if body_len ~= 0 then
			ti:add_proto_expert_info(ef.bad_len, "status with a non-zero body_len")
		end
		if total ~= len then
			ti:add_proto_expert_info(ef.bad_len,
				string.format("header says %u bytes, datagram has %u", total, len))
		end
		local slen = math.min(sig_len, len - HDR_LEN)
		if body_len == 0 and slen > 0 then
			add_signature(ti, buf, HDR_LEN, slen)
			if HDR_LEN + slen < len then
				ti:add(f.trailing, buf(HDR_LEN + slen, len - HDR_LEN - slen))
			end
		end
		return len
	end

	-- Rekey datagram: header || ciphertext || tag || signature.
	local total = HDR_LEN + body_len + TAG_LEN + sig_len
	ti:append_text(string.format(", Rekey, group %u, msg id %s, fragment %u/%u, KEK %u v%u",
		group, tostring(msg_id), buf(28, 1):uint() + 1, buf(29, 1):uint(),
		buf(12, 4):uint(), buf(16, 4):uint()))
	pinfo.cols.info:append(string.format("Rekey group=%u msg_id=%s frag=%u/%u KEK=%u v%u ",
		group, tostring(msg_id), buf(28, 1):uint(), buf(29, 1):uint(),
		buf(12, 4):uint(), buf(16, 4):uint()))
	if total ~= len then
		ti:add_proto_expert_info(ef.bad_len,
			string.format("header says %u bytes, datagram has %u", total, len))
	end
	local off = HDR_LEN
	local clen = math.min(body_len, len - off)
	if clen > 0 then
		local c = ti:add(f.ciphertext, buf(off, clen))
		c:add(f.ciphertext_len, clen):set_generated()
	end
	off = off + clen
	if len - off >= TAG_LEN then
		ti:add(f.tag, buf(off, TAG_LEN))
		off = off + TAG_LEN
		local slen = math.min(sig_len, len - off)
		if slen > 0 then
			add_signature(ti, buf, off, slen)
			off = off + slen
		end
	end
	if off < len then ti:add(f.trailing, buf(off, len - off)) end
	return len
end

function gkm.dissector(buf, pinfo, tree)
	if buf:len() < HDR_LEN then return 0 end
	pinfo.cols.protocol = "GKM"
	pinfo.cols.info = ""
	return dissect_message(buf, pinfo, tree)
end

-- --- registration channel (section 8) ---------------------------------------

function gkmreg.dissector(buf, pinfo, tree)
	local off, len = 0, buf:len()
	local done = false
	while off < len do
		local left = len - off
		if left < 4 then break end
		local magic = buf(off, 4):uint()
		if magic == MAGIC_REQ then
			if left < 16 then
				pinfo.desegment_offset = off
				pinfo.desegment_len = 16 - left
				return len
			end
			pinfo.cols.protocol = "GKMREG"
			if not done then pinfo.cols.info = "" end
			local t = tree:add(gkmreg, buf(off, 16), "gkm Registration Request")
			t:add(r.magic, buf(off, 4))
			t:add(r.version, buf(off + 4, 1))
			t:add(r.op, buf(off + 5, 1))
			add_role(t, r.role, r.role_recv, r.role_send, buf(off + 6, 2))
			t:add(r.group, buf(off + 8, 4))
			zero_check(t:add(r.reserved, buf(off + 12, 4)), buf(off + 12, 4))
			local op = ops[buf(off + 5, 1):uint()] or "?"
			t:append_text(string.format(": %s group %u", op, buf(off + 8, 4):uint()))
			pinfo.cols.info:append(string.format("%s group=%u ", op, buf(off + 8, 4):uint()))
			off = off + 16
		elseif magic == MAGIC_RESP then
			if left < 12 then
				pinfo.desegment_offset = off
				pinfo.desegment_len = 12 - left
				return len
			end
			local dlen = buf(off + 8, 4):uint()
			if dlen <= MAX_REG_LEN and left < 12 + dlen then
				pinfo.desegment_offset = off
				pinfo.desegment_len = 12 + dlen - left
				return len
			end
			pinfo.cols.protocol = "GKMREG"
			if not done then pinfo.cols.info = "" end
			dlen = math.min(dlen, left - 12)
			local t = tree:add(gkmreg, buf(off, 12 + dlen), "gkm Registration Response")
			t:add(r.magic, buf(off, 4))
			t:add(r.version, buf(off + 4, 1))
			t:add(r.status, buf(off + 5, 1))
			zero_check(t:add(r.reserved16, buf(off + 6, 2)), buf(off + 6, 2))
			t:add(r.length, buf(off + 8, 4))
			local st = statuses[buf(off + 5, 1):uint()] or "?"
			t:append_text(": " .. st)
			pinfo.cols.info:append("Response " .. st .. " ")
			if dlen > 0 then
				local d = buf(off + 12, dlen)
				if dlen >= HDR_LEN and d(0, 4):uint() == MAGIC_REKEY then
					dissect_message(d:tvb(), pinfo, t)
					pinfo.cols.protocol = "GKMREG"
				else
					t:add(r.reason, d)
				end
			end
			off = off + 12 + dlen
		elseif magic == MAGIC_REKEY and left >= HDR_LEN then
			-- A bare registration payload (e.g. a file wrapped by text2pcap).
			local need = HDR_LEN + buf(off + 30, 2):uint()
			if buf(off + 5, 1):uint() ~= 2 then
				need = need + TAG_LEN + buf(off + 34, 2):uint()
			end
			if left < need and need <= MAX_REG_LEN then
				pinfo.desegment_offset = off
				pinfo.desegment_len = need - left
				return len
			end
			pinfo.cols.protocol = "GKM"
			if not done then pinfo.cols.info = "" end
			off = off + dissect_message(buf(off, math.min(need, left)):tvb(), pinfo, tree)
		else
			break
		end
		done = true
	end
	if not done then return 0 end
	return off
end

-- --- registration -------------------------------------------------------------

local function looks_like(buf)
	if buf:len() < 16 then return nil end
	local m = buf(0, 4):uint()
	if buf(4, 1):uint() ~= 1 then return nil end
	if m == MAGIC_REKEY and buf:len() >= HDR_LEN then
		local t = buf(5, 1):uint()
		if t == 1 or t == 2 then return "msg" end
	elseif m == MAGIC_REQ or m == MAGIC_RESP then
		return "reg"
	end
	return nil
end

local function heur_udp(buf, pinfo, tree)
	if not gkm.prefs.heuristic or looks_like(buf) ~= "msg" then return false end
	gkm.dissector(buf, pinfo, tree)
	return true
end

local function heur_stream(buf, pinfo, tree)
	if not gkm.prefs.heuristic or not looks_like(buf) then return false end
	return gkmreg.dissector(buf, pinfo, tree) > 0
end

gkm:register_heuristic("udp", heur_udp)
gkmreg:register_heuristic("tcp", heur_stream)
gkmreg:register_heuristic("tls", heur_stream)

local udp_table = DissectorTable.get("udp.port")
local tls_table = DissectorTable.get("tls.port")
local cur_udp, cur_tcp = gkm.prefs.udp_port, gkmreg.prefs.tcp_port
local tcp_table = DissectorTable.get("tcp.port")
-- The registration port carries TLS: decode it as TLS, whose decrypted
-- application data then goes to gkmreg through tls.port.
local ok_tls, tls = pcall(Dissector.get, "tls")
if not ok_tls then tls = nil end
udp_table:add(cur_udp, gkm)
tls_table:add(cur_tcp, gkmreg)
if tls then tcp_table:add(cur_tcp, tls) end
udp_table:add_for_decode_as(gkm)
tcp_table:add_for_decode_as(gkmreg)
tls_table:add_for_decode_as(gkmreg)

function gkm.prefs_changed()
	if cur_udp ~= gkm.prefs.udp_port then
		udp_table:remove(cur_udp, gkm)
		cur_udp = gkm.prefs.udp_port
		udp_table:add(cur_udp, gkm)
	end
end

function gkmreg.prefs_changed()
	if cur_tcp ~= gkmreg.prefs.tcp_port then
		tls_table:remove(cur_tcp, gkmreg)
		if tls then tcp_table:remove(cur_tcp, tls) end
		cur_tcp = gkmreg.prefs.tcp_port
		tls_table:add(cur_tcp, gkmreg)
		if tls then tcp_table:add(cur_tcp, tls) end
	end
end
