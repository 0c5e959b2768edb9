# expect <status> <text the output must contain> <arguments...>: runs "$bin" with the arguments and checks its exit
# status and output; sets fail=1 on a mismatch. Sourced by cli.sh and model_eval.sh, which set bin and name.
fail=0
expect() {
  want=$1 pattern=$2
  shift 2
  out=$("$bin" "$@" 2>&1)
  got=$?
  if [ "$got" -ne "$want" ] || ! printf '%s' "$out" | grep -qF -- "$pattern"; then
    echo "FAIL: $name $* -> status $got (expected $want and '$pattern'); output:"
    printf '%s\n' "$out" | tail -5
    fail=1
  else
    echo "ok ($got): $name $*"
  fi
}
