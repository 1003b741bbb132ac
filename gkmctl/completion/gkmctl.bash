# SPDX-License-Identifier: GPL-2.0
# bash completion for gkmctl(8). Install as
# /usr/share/bash-completion/completions/gkmctl.

_gkmctl_groups()
{
	gkmctl -j show 2>/dev/null | sed -n 's/^ *"id": *\([0-9]*\).*/\1/p'
}

_gkmctl()
{
	local cur prev cmd i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}

	# The command: the first word after the global options.
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done

	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "show monitor join leave policy group gcks -j --json --version --help" -- "$cur"))
		return
	fi

	case $prev in
	--cert|--key|--ca|--registration)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--dev)
		COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
	--role)
		COMPREPLY=($(compgen -W "sender receiver both" -- "$cur")); return ;;
	--proto)
		COMPREPLY=($(compgen -W "udp any" -- "$cur")); return ;;
	--socket)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--server|--ctrl|--data|--reqid|--timeout)
		return ;;
	esac

	case $cmd in
	gcks)
		COMPREPLY=($(compgen -W "status members evict bans unban rekey reload --ban --socket --timeout --help" -- "$cur")) ;;
	show)
		COMPREPLY=($(compgen -W "$(_gkmctl_groups) dump --help" -- "$cur")) ;;
	monitor)
		COMPREPLY=($(compgen -W "$(_gkmctl_groups) --help" -- "$cur")) ;;
	join)
		COMPREPLY=($(compgen -W "--server --cert --key --ca --ctrl --data --dev --role --reqid --proto --timeout --registration --detach --help" -- "$cur")) ;;
	leave)
		if [[ $prev == leave ]]; then
			COMPREPLY=($(compgen -W "$(_gkmctl_groups) --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--server --cert --key --ca --timeout --proto" -- "$cur"))
		fi ;;
	policy|group)
		if [[ $prev == "$cmd" ]]; then
			COMPREPLY=($(compgen -W "add del --help" -- "$cur"))
		elif [[ $prev == add || $prev == del ]]; then
			COMPREPLY=($(compgen -W "$(_gkmctl_groups)" -- "$cur"))
		elif [[ $cmd == policy ]]; then
			COMPREPLY=($(compgen -W "--data --role --reqid --proto" -- "$cur"))
		fi ;;
	esac
}
complete -F _gkmctl gkmctl
