#!/usr/bin/env bats
#
# complete.bats - shell completion, --help and tsock(1) all list what
# tsock's own tables hold (tsock --complete), so none of them drifts.

setup() {
	load helpers
	setup_tmp
	TOP=$BATS_TEST_DIRNAME/../..
}

teardown() {
	teardown_tmp
}

# try LINE: what the completion script offers for LINE typed so far
# (the cursor at its end), in COMPREPLY, words split as bash splits
# them (also at ':' and '=', which COMP_WORDBREAKS holds).
try() {
	local line=$1 rest word
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMP_WORDS=()
	rest=$line
	while [[ -n $rest ]]; do
		rest=${rest#"${rest%%[! ]*}"}
		[[ -z $rest ]] && break
		if [[ $rest == [:=]* ]]; then
			word=${rest:0:1}
		else
			word=${rest%%[ :=]*}
		fi
		COMP_WORDS+=("$word")
		rest=${rest:${#word}}
	done
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_WORDS[0]=$TSOCK
	_tsock
}

@test "tsock --complete lists commands, kinds, endpoint options and options; anything else is a usage error" {
	run "$TSOCK" --complete commands
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | tr '\n' ' ')" = "connect listen relay proxy udp-echo " ]
	run "$TSOCK" --complete kinds
	for k in tcp: tcp4: udp6: tls: unix: unix-dgram: unix-seqpacket: \
		stdio - exec: sh: fd: systemd systemd:; do
		grep -qxF -- "$k" <<<"$output"
	done
	run "$TSOCK" --complete endpoint-options
	grep -qx 'cafile=' <<<"$output"
	grep -qx 'insecure' <<<"$output"
	run "$TSOCK" --complete options
	grep -qx -- '--timeout=' <<<"$output"
	grep -qx -- '-k' <<<"$output"
	refute grep -q -- '--complete' <<<"$output"
	run "$TSOCK" --complete nonsense
	[ "$status" -eq 2 ]
}

@test "bash completion: commands, kinds, endpoint options, global options and paths, from tsock itself" {
	source "$TOP/completion/tsock"
	try "tsock "
	[ "${COMPREPLY[*]}" = "connect listen relay proxy udp-echo" ]
	try "tsock re"
	[ "${COMPREPLY[*]}" = "relay" ]
	try "tsock relay t"
	[ "${COMPREPLY[*]}" = "tcp: tcp4: tcp6: tls:" ]
	try "tsock -w 5 connect uni"
	[ "${COMPREPLY[*]}" = "unix: unix-dgram: unix-seqpacket:" ]
	# after the last ':' bash keeps what it has: only the rest is given
	try "tsock connect tls:example.org:443,serv"
	[ "${COMPREPLY[*]}" = "443,servername=" ]
	try "tsock --max-co"
	[ "${COMPREPLY[*]}" = "--max-conns" ]
	touch "$TMP/sock-file"
	try "tsock connect unix:$TMP/sock-f"
	[ "${COMPREPLY[*]}" = "$TMP/sock-file" ]
}

@test "--help and tsock(1) list every endpoint kind of the table" {
	local help section kinds k man_k
	help=$("$TSOCK" --help)
	# the ENDPOINTS section of the man page, up to the next section
	section=$(sed -n '/^\.SH ENDPOINTS/,/^\.SH FRAMING/p' "$TOP/man/tsock.1")
	kinds=$("$TSOCK" --complete kinds | sed 's/:$//' | sort -u)
	[ -n "$kinds" ]
	for k in $kinds; do
		echo "kind $k"
		# a name or alias as a word in --help's endpoint list
		grep -qE "(^| |\()$k(:|,|\)|\[| |$)" <<<"$help"
		# ... and in tsock(1), where '-' is written '\-'
		man_k=${k//-/\\\\-}
		grep -qE "(^|[ \"])$man_k(:|[ \",]|$)" <<<"$section"
	done
}

@test "--help and tsock(1) list every endpoint option of the table" {
	local help section opts o man_o
	help=$("$TSOCK" --help | sed -n '/^Endpoint options/,/^$/p')
	# the "Endpoint options" part of the man page, up to the next part
	section=$(sed -n '/^\.SS Endpoint options/,/^\.PP/p' "$TOP/man/tsock.1")
	opts=$("$TSOCK" --complete endpoint-options | sed 's/=$//')
	[ -n "$opts" ]
	for o in $opts; do
		echo "option $o"
		grep -qE "(^| )$o(=| |$)" <<<"$help"
		# in an item's head (.B, .BI: 'NAME=' or after '\fP'), where
		# '-' is written '\-'
		man_o=${o//-/\\\\-}
		grep -E '^\.(B|BI) ' <<<"$section" |
			grep -qE "(^\.BI? \"?|\\\\fP)$man_o([= \"]|\$)"
	done
}
