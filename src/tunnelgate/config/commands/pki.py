"""CA trustpoints (``crypto ca trustpoint``) and certificate maps (``crypto ca certificate map``).

Decisions where the spec is silent or ambiguous:

- "Rules cannot be longer than 255 characters": a rule is the sub-mode line as rendered
  (``subject-name attr cn eq VALUE``), so that line is at most 255 characters.
- ``revocation-check`` keeps the order given (the order methods are tried in); ``none``
  means "accept when no method answers" and so must come last.
- ``crl configure`` (a sub-mode a real ASA prints in every trustpoint) is accepted and has
  no effect, so that real configurations load; it is not rendered.
- ``clear configure crypto ca …`` lives in the ``clear`` family.
"""

from __future__ import annotations

from tunnelgate.config import keywords as kw
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import CertificateMatch, RunningConfig, Trustpoint
from tunnelgate.config.modes import CA_CERT_MAP, CA_TRUSTPOINT, CONFIG
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


@COMMANDS.command(CA_TRUSTPOINT, "crl configure")
def crl_configure(ctx: CommandContext, args: Args) -> None:
    """Accepted for real configurations; CRL settings are not modelled."""
    _tp(ctx)


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


def _trustpoint_block(tp: Trustpoint) -> Block:
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
    blocks = [_trustpoint_block(tp) for tp in config.trustpoints.values()]
    if config.trustpool_policy:
        blocks.append(Block.of("crypto ca trustpool policy"))
    for name, entries in config.certificate_maps.items():
        for seq, rules in entries.items():
            blocks.append(
                Block.of(f"crypto ca certificate map {name} {seq}", *map(rule_text, rules))
            )
    return blocks
