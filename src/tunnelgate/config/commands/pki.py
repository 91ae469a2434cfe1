"""CA trustpoints (``crypto ca trustpoint``) and certificate maps (``crypto ca certificate map``).

Decisions where the spec is silent or ambiguous:

- "Rules cannot be longer than 255 characters": a rule is the sub-mode line as rendered
  (``subject-name attr cn eq VALUE``), so that line is at most 255 characters.
- ``revocation-check`` keeps the order given (the order methods are tried in); ``none``
  means "accept when no method answers" and so must come last.
- ``crl configure`` enters the ``config-ca-crl`` sub-mode (nested in the trustpoint: ``exit``
  returns to the trustpoint, and a trustpoint line there leaves it for the trustpoint) with
  ``policy {static|cdp|both}`` (default ``cdp``) and ``url <1-5> URL``. URLs are ``http://``,
  ``https://`` and, for labs, ``file:///path`` or an absolute path; ``ldap://`` (which the
  ASA allows) and other schemes are refused, since nothing here could fetch them. ``url N``
  on a used index replaces its URL. ``no crl configure`` restores the defaults. The block is
  rendered last in the trustpoint, only when something differs from the default (always
  with ``show running-config all``).
- ``clear configure crypto ca …`` lives in the ``clear`` family.
"""

from __future__ import annotations

from tunnelgate.config import keywords as kw
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import CertificateMatch, RunningConfig, Trustpoint
from tunnelgate.config.modes import CA_CERT_MAP, CA_CRL, CA_TRUSTPOINT, CONFIG
from tunnelgate.config.render_types import Block, RenderOptions

COMMANDS = CommandTable()

REVOCATION_METHODS = ("crl", "ocsp", "none")
MATCH_FIELDS = ("subject-name", "issuer-name")
MATCH_OPERATORS = ("eq", "ne", "co", "nc")
# ``attr`` tags of ``subject-name``/``issuer-name`` in a certificate map (ASA command reference)
DN_ATTRIBUTES = (
    "c", "cn", "dnq", "ea", "gen", "gn", "i", "l", "n", "o", "ou", "ser", "sn", "sp", "st",
    "t", "uid", "uname",
)  # fmt: skip
MAX_RULE = 255
URL_SCHEMES = ("http://", "https://")
CRL_POLICIES = ("static", "cdp", "both")
DEFAULT_CRL_POLICY = "cdp"
CRL_URL_SCHEMES = ("http://", "https://", "file:///")
MAX_CRL_URLS = 5
_alt = kw.alternatives

# --------------------------------------------------------------------------- trustpoints


@COMMANDS.command(
    CONFIG,
    "crypto ca trustpoint WORD$name",
    help="Configure a CA trustpoint",
    ca="Certificate authority",
    trustpoint="Define a trustpoint",
)
def trustpoint(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    ctx.config.trustpoints.setdefault(name, Trustpoint(name))
    ctx.enter(CA_TRUSTPOINT, name)


@COMMANDS.command(CONFIG, "no crypto ca trustpoint WORD$name")
def no_trustpoint(ctx: CommandContext, args: Args) -> None:
    if ctx.config.trustpoints.pop(args["name"], None) is None:
        raise CommandError(f"trustpoint {args['name']} does not exist", "name")


def _tp(ctx: CommandContext) -> Trustpoint:
    tp = ctx.config.trustpoints.get(ctx.key)
    if tp is None:
        raise CommandError(f"trustpoint {ctx.key} no longer exists")
    return tp


@COMMANDS.command(
    CA_TRUSTPOINT,
    "enrollment {terminal|self|url WORD$url}$method",
    enrollment="How the certificate is enrolled",
    terminal="Paste the certificate at the terminal",
    self="Generate a self-signed certificate",
    url="Enroll with SCEP at this URL",
)
def enrollment(ctx: CommandContext, args: Args) -> None:
    tp = _tp(ctx)
    url = args.get("url")
    if url is not None and not url.lower().startswith(URL_SCHEMES):
        raise CommandError("the enrollment URL must begin with http:// or https://", "url")
    tp.enrollment, tp.enrollment_url = args["method"], url


@COMMANDS.command(CA_TRUSTPOINT, "no enrollment [LINE]")
def no_enrollment(ctx: CommandContext, args: Args) -> None:
    tp = _tp(ctx)
    tp.enrollment = tp.enrollment_url = None


@COMMANDS.command(CA_TRUSTPOINT, "keypair WORD$label", keypair="Key pair to certify")
def keypair(ctx: CommandContext, args: Args) -> None:
    _tp(ctx).keypair = args["label"]


@COMMANDS.command(CA_TRUSTPOINT, "no keypair [WORD]")
def no_keypair(ctx: CommandContext, args: Args) -> None:
    _tp(ctx).keypair = None


@COMMANDS.command(CA_TRUSTPOINT, "subject-name LINE$dn", subject_name="Subject DN to request")
def subject_name(ctx: CommandContext, args: Args) -> None:
    _tp(ctx).subject_name = args["dn"]


@COMMANDS.command(CA_TRUSTPOINT, "no subject-name [LINE]")
def no_subject_name(ctx: CommandContext, args: Args) -> None:
    _tp(ctx).subject_name = None


@COMMANDS.command(CA_TRUSTPOINT, "fqdn WORD$fqdn", fqdn="FQDN in the subject alternative name")
def fqdn(ctx: CommandContext, args: Args) -> None:
    _tp(ctx).fqdn = args["fqdn"]


@COMMANDS.command(CA_TRUSTPOINT, "no fqdn [WORD]")
def no_fqdn(ctx: CommandContext, args: Args) -> None:
    _tp(ctx).fqdn = None


@COMMANDS.command(
    CA_TRUSTPOINT,
    f"revocation-check {_alt(REVOCATION_METHODS)}$methods...",
    revocation_check="Revocation methods, in the order tried",
    crl="Certificate revocation list",
    ocsp="Online certificate status",
    none="Accept when no method answers",
)
def revocation_check(ctx: CommandContext, args: Args) -> None:
    tp = _tp(ctx)
    methods = list(dict.fromkeys(args["methods"]))
    if "none" in methods[:-1]:
        raise CommandError("'none' must be the last revocation method", "methods")
    tp.revocation_check = methods


@COMMANDS.command(CA_TRUSTPOINT, "no revocation-check [LINE]")
def no_revocation_check(ctx: CommandContext, args: Args) -> None:
    _tp(ctx).revocation_check = []


@COMMANDS.command(
    CA_TRUSTPOINT,
    "crl configure",
    help="Enter the CRL sub-mode (where this trustpoint's CRLs come from)",
    crl="Certificate revocation list settings",
    configure="Enter the CRL configuration sub-mode",
)
def crl_configure(ctx: CommandContext, args: Args) -> None:
    _tp(ctx)
    ctx.enter(CA_CRL, ctx.key)


@COMMANDS.command(CA_TRUSTPOINT, "no crl configure", help="Restore the default CRL settings")
def no_crl_configure(ctx: CommandContext, args: Args) -> None:
    tp = _tp(ctx)
    tp.crl_policy, tp.crl_urls = DEFAULT_CRL_POLICY, {}


# --------------------------------------------------------------------------- crl configure


@COMMANDS.command(
    CA_CRL,
    f"policy {_alt(CRL_POLICIES)}$policy",
    help="CRL sources: static URLs, the certificates' distribution points (default), or both",
    policy="Where CRLs are fetched from",
    static="Only the URLs configured here",
    cdp="Only the CRL distribution points in the certificates",
    both="The URLs configured here, then the distribution points",
)
def crl_policy(ctx: CommandContext, args: Args) -> None:
    _tp(ctx).crl_policy = args["policy"]


@COMMANDS.command(CA_CRL, "no policy [LINE]", help="Restore the default policy (cdp)")
def no_crl_policy(ctx: CommandContext, args: Args) -> None:
    _tp(ctx).crl_policy = DEFAULT_CRL_POLICY


def crl_url_error(url: str) -> str | None:
    """Why ``url`` cannot be a static CRL URL, or None."""
    lowered = url.lower()
    if lowered.startswith(CRL_URL_SCHEMES) or url.startswith("/"):
        if lowered.startswith(("http://", "https://")) and not url.split("://", 1)[1]:
            return "the URL names no host"
        return None
    if lowered.startswith("file://"):
        return "a file URL names an absolute path: file:///path/to/ca.crl"
    scheme, sep, _ = url.partition("://")
    if sep and scheme:
        return (
            f"{scheme} URLs are not supported: use http://, https://, file:/// or an absolute path"
        )
    return "a CRL URL begins with http://, https://, file:/// or /"


@COMMANDS.command(
    CA_CRL,
    f"url <1-{MAX_CRL_URLS}>$index WORD$url",
    help="A static CRL URL: http://, https://, file:///path or /path",
    url="A static CRL URL (policy static or both)",
)
def crl_url(ctx: CommandContext, args: Args) -> None:
    tp = _tp(ctx)
    url: str = args["url"]
    problem = crl_url_error(url)
    if problem is not None:
        raise CommandError(problem, "url")
    tp.crl_urls = dict(sorted({**tp.crl_urls, args["index"]: url}.items()))


@COMMANDS.command(
    CA_CRL, f"no url <1-{MAX_CRL_URLS}>$index [WORD]", help="Remove the static CRL URL"
)
def no_crl_url(ctx: CommandContext, args: Args) -> None:
    tp = _tp(ctx)
    index: int = args["index"]
    if index not in tp.crl_urls:
        raise CommandError(f"no CRL URL has index {index}", "index")
    del tp.crl_urls[index]


# --------------------------------------------------------------------------- certificate maps


@COMMANDS.command(
    CONFIG,
    "crypto ca certificate map WORD$name <1-65535>$seq",
    help="Configure a certificate map rule",
    certificate="Certificates",
    map="Certificate map rules for tunnel-group matching",
)
def certificate_map(ctx: CommandContext, args: Args) -> None:
    name, seq = args["name"], args["seq"]
    entries = ctx.config.certificate_maps.setdefault(name, {})
    if seq not in entries:
        entries[seq] = []
        ctx.config.certificate_maps[name] = dict(sorted(entries.items()))
    ctx.enter(CA_CERT_MAP, (name, seq))


@COMMANDS.command(CONFIG, "no crypto ca certificate map WORD$name [<1-65535>$seq]")
def no_certificate_map(ctx: CommandContext, args: Args) -> None:
    name, seq = args["name"], args.get("seq")
    entries = ctx.config.certificate_maps.get(name)
    if entries is None:
        raise CommandError(f"certificate map {name} does not exist", "name")
    if seq is None:
        del ctx.config.certificate_maps[name]
        return
    if seq not in entries:
        raise CommandError(f"certificate map {name} has no entry {seq}", "seq")
    del entries[seq]
    if not entries:
        del ctx.config.certificate_maps[name]


def _rules(ctx: CommandContext) -> list[CertificateMatch]:
    name, seq = ctx.key
    rules = ctx.config.certificate_maps.get(name, {}).get(seq)
    if rules is None:
        raise CommandError(f"certificate map {name} {seq} no longer exists")
    return rules


def rule_text(rule: CertificateMatch) -> str:
    """The sub-mode line of one rule."""
    attr = f" attr {rule.attribute}" if rule.attribute else ""
    return f"{rule.field_name}{attr} {rule.operator} {rule.value}"


_RULE = (
    f"{_alt(MATCH_FIELDS)}$field [attr {_alt(DN_ATTRIBUTES)}$attr] "
    f"{_alt(MATCH_OPERATORS)}$op LINE$value"
)


def _rule(args: Args) -> CertificateMatch:
    return CertificateMatch(args["field"], args.get("attr"), args["op"], args["value"])


@COMMANDS.command(
    CA_CERT_MAP,
    _RULE,
    subject_name="Match the subject DN",
    issuer_name="Match the issuer DN",
    attr="Match one attribute of the DN",
    eq="Equals",
    ne="Does not equal",
    co="Contains",
    nc="Does not contain",
)
def add_rule(ctx: CommandContext, args: Args) -> None:
    rules = _rules(ctx)
    rule = _rule(args)
    if len(rule_text(rule)) > MAX_RULE:
        raise CommandError(
            f"a rule is at most {MAX_RULE} characters (this one has {len(rule_text(rule))})",
            "value",
        )
    if rule not in rules:
        rules.append(rule)


@COMMANDS.command(CA_CERT_MAP, f"no {_RULE}")
def remove_rule(ctx: CommandContext, args: Args) -> None:
    rules = _rules(ctx)
    rule = _rule(args)
    if rule not in rules:
        raise CommandError(f"no rule '{rule_text(rule)}' in this certificate map entry", "field")
    rules.remove(rule)


# --------------------------------------------------------------------------- render


def _crl_lines(tp: Trustpoint, options: RenderOptions) -> list[str]:
    """The ``crl configure`` block, one level deeper than the trustpoint's lines."""
    lines = []
    if tp.crl_policy != DEFAULT_CRL_POLICY or options.all:
        lines.append(f" policy {tp.crl_policy}")
    lines.extend(f" url {index} {url}" for index, url in sorted(tp.crl_urls.items()))
    return ["crl configure", *lines] if lines else []


def _trustpoint_block(tp: Trustpoint, options: RenderOptions) -> Block:
    lines = []
    if tp.revocation_check:
        lines.append("revocation-check " + " ".join(tp.revocation_check))
    if tp.enrollment == "url":
        lines.append(f"enrollment url {tp.enrollment_url}")
    elif tp.enrollment is not None:
        lines.append(f"enrollment {tp.enrollment}")
    if tp.fqdn is not None:
        lines.append(f"fqdn {tp.fqdn}")
    if tp.subject_name is not None:
        lines.append(f"subject-name {tp.subject_name}")
    if tp.keypair is not None:
        lines.append(f"keypair {tp.keypair}")
    lines.extend(_crl_lines(tp, options))
    return Block.of(f"crypto ca trustpoint {tp.name}", *lines)


@COMMANDS.command(CONFIG, "crypto ca trustpool policy", help="Trusted CA pool policy")
def trustpool_policy(ctx: CommandContext, args: Args) -> None:
    """Accepted and kept (every ASA 9.x prints it); its settings belong to the PKI layer."""
    ctx.config.trustpool_policy = True


@COMMANDS.command(CONFIG, "no crypto ca trustpool policy")
def no_trustpool_policy(ctx: CommandContext, args: Args) -> None:
    ctx.config.trustpool_policy = False


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """Trustpoints, then certificate map entries in sequence order."""
    blocks = [_trustpoint_block(tp, options) for tp in config.trustpoints.values()]
    if config.trustpool_policy:
        blocks.append(Block.of("crypto ca trustpool policy"))
    for name, entries in config.certificate_maps.items():
        for seq, rules in entries.items():
            blocks.append(
                Block.of(f"crypto ca certificate map {name} {seq}", *map(rule_text, rules))
            )
    return blocks
