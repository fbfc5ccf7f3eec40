#!/usr/bin/env python3
"""Differential test of Hush's address normalization against the reference libraries.

Generates a corpus (phone numbers in every region libphonenumber knows, in every format people
write them in, and mutations of them; email addresses with IDN, Unicode and length cases),
normalizes each with `hush normalize --jsonl` and with the reference (`phonenumbers`, `idna`,
`email-validator`), and compares:

- misread: both accept and the answers differ: the test fails;
- Hush refuses what the reference accepts: reported, with examples;
- Hush accepts what the reference refuses: reported, with examples.

    pip install phonenumbers==9.0.43 idna==3.13 email-validator==2.4.0
    python3 scripts/differential.py [--hush .build/debug/hush] [--show 10]

The corpus is generated from a fixed seed, so every run checks the same inputs.
"""

import argparse
import json
import random
import subprocess
import sys
import unicodedata

import email_validator
import idna
import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, PhoneMetadata

PINNED = {"phonenumbers": "9.0.43", "idna": "3.13", "email_validator": "2.4.0"}

TYPES = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE,
         PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.VOIP,
         PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.PAGER, PhoneNumberType.UAN,
         PhoneNumberType.VOICEMAIL]

FULL_WIDTH = {ord(c): chr(0xFF10 + i) for i, c in enumerate("0123456789")}
FULL_WIDTH[ord("+")] = "\uff0b"


# Phones ---------------------------------------------------------------------------------------

def phone_reference(text, region):
    """The E.164 form libphonenumber gives, or None when it refuses: unparseable, or neither
    possible nor valid. A number with an extension is marked, for Hush must refuse it."""
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return None
    if number.extension:
        # Hush refuses extensions: accepting this input at all would key part of it.
        return "extension:" + phonenumbers.format_number(number, PhoneNumberFormat.E164)
    possible = phonenumbers.is_possible_number_with_reason(number) == phonenumbers.ValidationResult.IS_POSSIBLE
    if not possible and not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def phone_corpus(rng):
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    cases = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region)
        idd = metadata.preferred_international_prefix or metadata.international_prefix
        for numtype in TYPES:
            example = phonenumbers.example_number_for_type(region, numtype)
            if example is None:
                continue
            cc = example.country_code
            nsn = phonenumbers.national_significant_number(example)
            national = phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
            international = phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL)
            cases += [
                (f"+{cc}{nsn}", None),
                (international, None),
                (international, rng.choice(regions)),
                (phonenumbers.format_number(example, PhoneNumberFormat.RFC3966), None),
                (national, region),
                (national.replace(" ", ""), region),
                (international.translate(FULL_WIDTH), None),
                (national.translate(FULL_WIDTH), region),
                (f"{cc} {nsn}", region),
                (f"{cc}{nsn}", region),
                (f"+{cc} {national}", None),
                (f"+{cc} (0){nsn}", None),
            ]
            if metadata.national_prefix:
                cases.append((f"+{cc} {metadata.national_prefix}{nsn}", None))
            if idd and idd.isdigit():
                cases += [(f"{idd} {cc} {nsn}", region), (f"{idd} {cc} (0){nsn}", region)]
            # Dialled from another region with its own international prefix (carrier codes too).
            for origin, prefix in (("AU", "0011"), ("AU", "0014"), ("BR", "0021"), ("BR", "0015"),
                                   ("US", "011"), ("GB", "00"), ("JP", "010"), ("RU", "810")):
                cases.append((f"{prefix} {cc} {nsn}", origin))
            # Mutations: a digit more, a digit less, and a digit changed.
            cases += [
                (f"+{cc}{nsn}{rng.randrange(10)}", None),
                (f"+{cc}{nsn[:-1]}", None),
                (national + str(rng.randrange(10)), region),
                (national[:-1], region),
                (f"+{cc}0{nsn}", None),
                # Extensions, `~` among them, which Hush must refuse rather than read.
                (f"+{cc} {nsn[:-2]}~{nsn[-2:]}", None),
                (f"{national[:-2]}\uff5e{national[-2:]}", region),
                (f"{international} ext. {rng.randrange(1, 999)}", None),
                (f"{national} x{rng.randrange(1, 99)}", region),
                # A digit of a script newer than the references' Unicode 14 (Kawi, Unicode 15).
                (f"+{cc} {nsn[:-1]}\U00011F58", None),
            ]
        # Random digit strings of every length, national and international.
        for length in range(3, 16):
            digits = "".join(str(rng.randrange(10)) for _ in range(length))
            cases += [(digits, region), ("0" + digits, region), (f"+{metadata.country_code}{digits}", None)]
    # Non-geographic calling codes (+800, +808, +870, +878, +881, +882, +883, +888, +979).
    for cc in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        for numtype in TYPES:
            example = phonenumbers.example_number_for_non_geo_entity(cc)
            if example is not None:
                nsn = phonenumbers.national_significant_number(example)
                cases += [(f"+{cc} {nsn}", None), (f"00 {cc} {nsn}", "DE"), (f"+{cc}{nsn}9", None)]
                break
    # Forms the issue named, and the ones a user pastes.
    cases += [
        ("+44 01212345678", None), ("+49 030123456", None), ("+33 0123456789", None),
        ("+61 0412345678", None), ("00 44 (0)121 234 5678", "GB"), ("0014 44 20 7946 0958", "AU"),
        ("1800 123 456", "AU"), ("0800 12 3456", "BR"), ("0800 1234", "NL"), ("310-1234", "CA"),
        ("+683 7012", None), ("+290 8999", None), ("tel:+1-415-555-2671", None),
        ("+1 415 555 2671 ext 3", None), ("+1 415 555 2671 x3", None), ("tel:+1-415-555-2671;ext=3", None),
        ("0 21 11 2345 6789", "BR"), ("011 15 2345 6789", "AR"), ("+54 9 11 2345 6789", None),
        ("+39 06 1234 5678", None), ("+39 (0)6 1234 5678", None), ("(415) 555-0100", "US"),
        ("1 (415) 555-0100", "US"), ("555-0100", "US"), ("0044 20 7946 0958", None), ("+0 123", None),
        ("+999 1234 5678", None), ("+1 800 FLOWERS", None), ("", None), ("+", None), ("12", "GB"),
    ]
    return cases


# Emails ---------------------------------------------------------------------------------------

def email_reference(text):
    """The key the reference libraries give: email-validator's syntax and length rules, the
    domain through UTS 46 (idna, transitional processing off), the local part NFC-normalized
    and case-folded; None when they refuse."""
    try:
        result = email_validator.validate_email(text.strip(), check_deliverability=False,
                                                allow_smtputf8=True, allow_quoted_local=False,
                                                allow_domain_literal=False, allow_display_name=False)
    except email_validator.EmailNotValidError:
        return None
    try:
        domain = idna.encode(result.domain, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError:
        return None
    local = unicodedata.normalize("NFC", unicodedata.normalize("NFC", result.local_part).casefold())
    key = f"{local}@{domain}"
    if len(key.encode("utf-8")) > 254 or len(domain) > 253:
        return None
    return key


def email_corpus(rng):
    locals_ = ["ann", "Ann.Lee", "ANN+tag", "o'brien", "jöhn", "JÖHN", "ΝΙΚΟΣ", "νικος", "νικοσ",
               "straße", "STRASSE", "ﬁnance", "İstanbul", "Kelvin\u212a", "ǅemal", "a" * 64, "a" * 65,
               "ann..lee", ".ann", "ann.", "名前", "ℌ", "x"]
    domains = ["example.com", "EXAMPLE.COM", "ｅｘａｍｐｌｅ.com", "ﬁnance.com", "München.DE",
               "xn--mnchen-3ya.de", "xn--mnchen-3ya.DE", "bücher.de", "-bücher.de", "bücher-.de",
               "xn--bcher-kva.de", "例え.テスト", "παράδειγμα.δοκιμή", "ß.de", "faß.de", "xn--fa-hia.de",
               "a\u200db.com", "مثال.إختبار", "1.com", "localhost", "example", "exa_mple.com",
               "xn--zz.com", "xn--a.com", "ⓔⓧⓐⓜⓟⓛⓔ.com", "example。com", "ex\u00adample.com",
               "Ⅻ.com", "xn--ls8h.la", "☃.net", "a" * 63 + ".com", "a" * 64 + ".com",
               ".".join(["a" * 49] * 5) + ".com", ".".join(["a" * 62] * 4) + ".com",
               "exa mple.com", "example..com", "example.com.", "例え。テスト", "ŉ.com"]
    cases = [f"{local}@{domain}" for local in locals_ for domain in domains]
    # Long addresses around the 254-octet limit.
    for total in (250, 253, 254, 255, 256):
        domain = "example.com"
        local_length = total - len(domain) - 1
        labels = []
        while local_length > 64:
            labels.append("b" * 60)
            local_length -= 61
        long_domain = ".".join(labels + [domain]) if labels else domain
        cases.append("a" * (total - len(long_domain) - 1) + "@" + long_domain)
    # Random Unicode letters in local parts and labels.
    alphabet = "abcdefghijklmnopqrstuvwxyzABCXYZäöüÄÖÜßéÉñÑçÇøØåÅæÆłŁżŻ" \
               "αβγδΣσςΑΒΓабвгдЖжЯяあいうアイウ漢字한국"
    for _ in range(2000):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
        label = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
        cases.append(f"{local}@{label}.{rng.choice(['com', 'de', 'jp', 'рф', 'COM'])}")
    return cases


# Running --------------------------------------------------------------------------------------

def run_hush(binary, lines):
    payload = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    result = subprocess.run([binary, "normalize", "--jsonl"], input=payload.encode("utf-8"),
                            capture_output=True, check=True)
    answers = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    if len(answers) != len(lines):
        sys.exit(f"hush answered {len(answers)} lines for {len(lines)}")
    return [answer.get("address") for answer in answers], [answer.get("error") for answer in answers]


def compare(name, inputs, expected, actual, errors, show):
    agree = misread = refused = extra = 0
    examples = {"misread": [], "refused": [], "extra": []}
    for (text, region), want, got, error in zip(inputs, expected, actual, errors):
        if want is not None and want.startswith("extension:"):
            if got is None:
                agree += 1
            else:
                misread += 1
                examples["misread"].append(f"{text!r} [{region}]: reference reads an extension, hush {got}")
        elif want == got:
            agree += 1
        elif want is not None and got is not None:
            misread += 1
            examples["misread"].append(f"{text!r} [{region}]: reference {want}, hush {got}")
        elif want is not None:
            refused += 1
            examples["refused"].append(f"{text!r} [{region}]: reference {want}, hush refused: {error}")
        else:
            extra += 1
            examples["extra"].append(f"{text!r} [{region}]: reference refused, hush {got}")
    total = len(inputs)
    print(f"{name}: {total} inputs, {agree} agree ({100 * agree / total:.2f} %), {misread} misread, "
          f"{refused} refused by Hush only, {extra} accepted by Hush only")
    for kind, lines in examples.items():
        for line in lines[:show]:
            print(f"  {kind}: {line}")
    return misread


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hush", default=".build/debug/hush")
    parser.add_argument("--show", type=int, default=8)
    args = parser.parse_args()
    versions = {"phonenumbers": phonenumbers.__version__, "idna": idna.__version__,
                "email_validator": email_validator.__version__}
    if versions != PINNED:
        sys.exit(f"reference versions {versions} differ from the pinned {PINNED}")

    rng = random.Random(14)
    phones = list(dict.fromkeys(phone_corpus(rng)))
    emails = list(dict.fromkeys(email_corpus(rng)))
    lines = [{"address": text, "region": region} for text, region in phones]
    lines += [{"address": text} for text in emails]
    actual, errors = run_hush(args.hush, lines)

    phone_expected = [phone_reference(text, region) for text, region in phones]
    email_expected = [email_reference(text) for text in emails]
    misreads = compare("phones", phones, phone_expected, actual[:len(phones)], errors[:len(phones)], args.show)
    misreads += compare("emails", [(text, None) for text in emails], email_expected,
                        actual[len(phones):], errors[len(phones):], args.show)
    if misreads:
        sys.exit(f"{misreads} misreads: Hush and the reference accept an address and key it differently")


if __name__ == "__main__":
    main()
