"""sandbox: throw-away Debian test hosts for this project (systemd-nspawn).

Each host is an overlayfs clone of a cached, read-only "golden" Debian rootfs
(one per release: bullseye, bookworm, the default, or trixie),
booted with systemd as PID 1 under systemd-nspawn, with its own IP on a bridge
this tool creates. The controller reaches every host by SSH as root with a key
kept under the state directory; hosts reach each other and the controller, and
nothing else: an nftables table drops everything forwarded into or out of the
bridge. Hosts get apt (and pip, HTTPS CONNECT) through an apt-cacher-ng proxy
that listens on the bridge address only.

Commands (all idempotent; run as root):
  image [--release R] [--rebuild]
                           build a release's golden rootfs once (cached by
                           recipe hash)
  up NAME[=IP][@RELEASE]...
                           start hosts (builds images, bridge, proxy if
                           needed); IP pins an address on the bridge, else
                           the first free; RELEASE picks the Debian release
                           (bullseye, bookworm, trixie; default bookworm)
  down [NAME...]           stop hosts; with no NAME, stop all and remove the
                           bridge, nft table, proxy and cgroups (also after a
                           failed or interrupted run)
  restart NAME [--hard]    reboot a host on the same disk and address; --hard
                           kills everything at once instead (a power loss)
  status [--json]          list running hosts (name, ip, pid, memory)
  ssh NAME [CMD...]        open a shell or run a command on a host
  check                    exit 1 if anything of the sandbox is left running
  (hosts also see http://10.231.7.1:8080/ : the files under CACHE/www, e.g. a
  test apt repository; nothing else on the controller is served to them)
  purge                    down + delete cached images and caches

Environment:
  MRQ_SANDBOX_STATE   state directory   (default /var/lib/mrq-sandbox)
  MRQ_SANDBOX_CACHE   cache directory   (default /var/cache/mrq-sandbox)
"""

# The package behind tests/sandbox/sandbox.py (its entry point). This docstring
# is the tool's --help text. One module per concern:
#   config    paths, addresses and ports shared by the modules
#   common    SandboxError, log(), run() and process probes
#   image     the golden rootfs (debootstrap, cached by recipe hash)
#   network   the bridge and the nftables table
#   services  apt-cacher-ng proxy and the file server on the bridge
#   hosts     nspawn hosts: overlay mounts, cgroups, start, wait, stop
#   cli       argparse, the commands, main()
