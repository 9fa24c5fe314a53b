"""Static reference tables the sandbox catalogue and number searches are drawn from."""

from __future__ import annotations

# ISO 3166-1 alpha-2 code | English name (Twilio's spelling where known) | country calling code.
COUNTRY_TABLE = """\
US|United States|1
CA|Canada|1
GB|United Kingdom|44
AU|Australia|61
DE|Germany|49
FR|France|33
ES|Spain|34
IT|Italy|39
NL|Netherlands|31
BE|Belgium|32
AT|Austria|43
CH|Switzerland|41
SE|Sweden|46
NO|Norway|47
DK|Denmark|45
FI|Finland|358
IE|Ireland|353
PT|Portugal|351
PL|Poland|48
CZ|Czech Republic|420
SK|Slovakia|421
HU|Hungary|36
RO|Romania|40
BG|Bulgaria|359
GR|Greece|30
HR|Croatia|385
SI|Slovenia|386
RS|Serbia|381
BA|Bosnia and Herzegovina|387
ME|Montenegro|382
MK|North Macedonia|389
AL|Albania|355
EE|Estonia|372
LV|Latvia|371
LT|Lithuania|370
LU|Luxembourg|352
MT|Malta|356
CY|Cyprus|357
IS|Iceland|354
LI|Liechtenstein|423
MC|Monaco|377
AD|Andorra|376
SM|San Marino|378
UA|Ukraine|380
MD|Moldova|373
GE|Georgia|995
AM|Armenia|374
AZ|Azerbaijan|994
TR|Türkiye|90
IL|Israel|972
JO|Jordan|962
LB|Lebanon|961
SA|Saudi Arabia|966
AE|United Arab Emirates|971
QA|Qatar|974
KW|Kuwait|965
BH|Bahrain|973
OM|Oman|968
EG|Egypt|20
MA|Morocco|212
DZ|Algeria|213
TN|Tunisia|216
NG|Nigeria|234
GH|Ghana|233
KE|Kenya|254
UG|Uganda|256
TZ|Tanzania|255
RW|Rwanda|250
ZA|South Africa|27
NA|Namibia|264
BW|Botswana|267
ZM|Zambia|260
ZW|Zimbabwe|263
MZ|Mozambique|258
AO|Angola|244
CM|Cameroon|237
CI|Côte d'Ivoire|225
SN|Senegal|221
ML|Mali|223
BF|Burkina Faso|226
BJ|Benin|229
TG|Togo|228
NE|Niger|227
ET|Ethiopia|251
MU|Mauritius|230
RE|Réunion|262
MG|Madagascar|261
ST|São Tomé and Príncipe|239
CV|Cabo Verde|238
GA|Gabon|241
CD|Democratic Republic of the Congo|243
CG|Republic of the Congo|242
MW|Malawi|265
SC|Seychelles|248
IN|India|91
PK|Pakistan|92
BD|Bangladesh|880
LK|Sri Lanka|94
NP|Nepal|977
CN|China|86
HK|Hong Kong|852
MO|Macao|853
TW|Taiwan|886
JP|Japan|81
KR|South Korea|82
MN|Mongolia|976
SG|Singapore|65
MY|Malaysia|60
ID|Indonesia|62
TH|Thailand|66
VN|Vietnam|84
PH|Philippines|63
KH|Cambodia|855
LA|Laos|856
MM|Myanmar|95
BN|Brunei|673
NZ|New Zealand|64
FJ|Fiji|679
PG|Papua New Guinea|675
KZ|Kazakhstan|7
UZ|Uzbekistan|998
KG|Kyrgyzstan|996
TJ|Tajikistan|992
MX|Mexico|52
GT|Guatemala|502
SV|El Salvador|503
HN|Honduras|504
NI|Nicaragua|505
CR|Costa Rica|506
PA|Panama|507
CO|Colombia|57
VE|Venezuela|58
EC|Ecuador|593
PE|Peru|51
BO|Bolivia|591
CL|Chile|56
AR|Argentina|54
UY|Uruguay|598
PY|Paraguay|595
BR|Brazil|55
DO|Dominican Republic|1
PR|Puerto Rico|1
JM|Jamaica|1
TT|Trinidad and Tobago|1
BS|Bahamas|1
BB|Barbados|1
KY|Cayman Islands|1
BM|Bermuda|1
VG|British Virgin Islands|1
VI|U.S. Virgin Islands|1
GD|Grenada|1
LC|Saint Lucia|1
AG|Antigua and Barbuda|1
DM|Dominica|1
KN|Saint Kitts and Nevis|1
VC|Saint Vincent and the Grenadines|1
TC|Turks and Caicos Islands|1
AI|Anguilla|1
MS|Montserrat|1
CW|Curaçao|599
AW|Aruba|297
SX|Sint Maarten|1
BQ|Bonaire, Sint Eustatius and Saba|599
GP|Guadeloupe|590
MQ|Martinique|596
GF|French Guiana|594
BL|Saint Barthélemy|590
MF|Saint Martin|590
PM|Saint Pierre and Miquelon|508
HT|Haiti|509
SR|Suriname|597
GY|Guyana|592
BZ|Belize|501
AX|Åland Islands|358
FO|Faroe Islands|298
GL|Greenland|299
GI|Gibraltar|350
IM|Isle of Man|44
JE|Jersey|44
GG|Guernsey|44
GU|Guam|1
MP|Northern Mariana Islands|1
AS|American Samoa|1
NC|New Caledonia|687
PF|French Polynesia|689
YT|Mayotte|262
WS|Samoa|685
TO|Tonga|676
VU|Vanuatu|678
SB|Solomon Islands|677
MV|Maldives|960
BT|Bhutan|975
IQ|Iraq|964
PS|Palestinian Territory|970
LY|Libya|218
SZ|Eswatini|268
LS|Lesotho|266
GM|Gambia|220
GN|Guinea|224
SL|Sierra Leone|232
LR|Liberia|231
MR|Mauritania|222
TD|Chad|235
BI|Burundi|257
DJ|Djibouti|253
KM|Comoros|269
"""

# Regulations exist for these, but AvailablePhoneNumbers offers no numbers there (as in Twilio's real list).
REGULATION_ONLY_COUNTRIES: dict[str, str] = {
    "XK": "Kosovo",
    "EU": "Europe",
    "AP": "Asia/Pacific Region",
    "CU": "Cuba",
}

# Number types of a few countries pinned to what Twilio's own material shows (reference §8).
PINNED_TYPES: dict[str, tuple[str, ...]] = {
    "US": ("local", "toll_free", "mobile", "national", "voip", "shared_cost", "machine_to_machine"),
    "CA": ("local", "toll_free"),
    "GB": ("local", "mobile", "national", "toll_free"),
    "AU": ("local", "mobile", "toll_free"),
    "DK": ("local", "toll_free"),
    "ZA": ("local", "toll_free"),
    "PE": ("local",),
    "NO": ("mobile", "toll_free"),
    "DE": ("local", "mobile", "national", "toll_free", "machine_to_machine"),
    "FR": ("local", "mobile", "national", "toll_free", "shared_cost"),
    "IE": ("local", "mobile", "national", "toll_free"),
    "ID": ("local", "toll_free"),
    "NL": ("local", "mobile", "national", "toll_free", "voip"),
    "ES": ("local", "mobile", "national", "toll_free", "shared_cost"),
}

# Chance that a (non-pinned) country offers each type; local is by far the most common.
TYPE_ODDS: dict[str, float] = {
    "local": 0.85,
    "mobile": 0.45,
    "national": 0.15,
    "toll_free": 0.5,
    "voip": 0.04,
    "shared_cost": 0.04,
    "machine_to_machine": 0.03,
}

# NANP geography: npa | region | locality | rate center | lata | latitude | longitude | postal code.
NANP_TABLE = """\
US|415|CA|San Francisco|SNFC CNTL|722|37.774900|-122.419400|94105
US|510|CA|Oakland|OKLD TRNID|722|37.804400|-122.271100|94612
US|213|CA|Los Angeles|LSAN DA 01|730|34.052200|-118.243700|90012
US|619|CA|San Diego|SNDG DA 01|732|32.715700|-117.161100|92101
US|212|NY|New York|NWYRCYZN01|132|40.712800|-74.006000|10007
US|718|NY|Brooklyn|NWYRCYZN03|132|40.678200|-73.944200|11201
US|617|MA|Boston|BOSTON|128|42.360100|-71.058900|02108
US|312|IL|Chicago|CHICAGO|358|41.878100|-87.629800|60602
US|305|FL|Miami|MIAMI|460|25.761700|-80.191800|33130
US|407|FL|Orlando|ORLANDO|458|28.538300|-81.379200|32801
US|404|GA|Atlanta|ATLANTA|438|33.749000|-84.388000|30303
US|512|TX|Austin|AUSTIN|558|30.267200|-97.743100|78701
US|713|TX|Houston|HOUSTON|560|29.760400|-95.369800|77002
US|214|TX|Dallas|DALLAS|552|32.776700|-96.797000|75201
US|206|WA|Seattle|SEATTLE|674|47.606200|-122.332100|98101
US|303|CO|Denver|DENVER|656|39.739200|-104.990300|80202
US|602|AZ|Phoenix|PHOENIX|666|33.448400|-112.074000|85003
US|571|VA|Alexandria|WSNGTNZN08|236|38.804800|-77.046900|22301
US|808|HI|Hilo|HILO|834|19.720000|-155.090000|96720
US|503|OR|Portland|PORTLAND|672|45.515200|-122.678400|97204
US|615|TN|Nashville|NASHVILLE|468|36.162700|-86.781600|37201
US|702|NV|Las Vegas|LAS VEGAS|721|36.169900|-115.139800|89101
CA|416|ON|Toronto|TORONTO|888|43.653200|-79.383200|M5H 2N2
CA|647|ON|Toronto|TORONTO|888|43.653200|-79.383200|M5V 3L9
CA|613|ON|Ottawa|OTTAWAHULL|888|45.421500|-75.697200|K1P 1J1
CA|514|QC|Montréal|MONTREAL|888|45.501700|-73.567300|H2Y 1C6
CA|418|QC|Québec|QUEBEC|888|46.813900|-71.208000|G1R 4S9
CA|604|BC|Vancouver|VANCOUVER|888|49.282700|-123.120700|V6B 1A1
CA|403|AB|Calgary|CALGARY|888|51.044700|-114.071900|T2P 2M5
CA|902|NS|Halifax|HALIFAX|888|44.648800|-63.575200|B3J 1S9
"""

TOLL_FREE_NPAS = ("800", "833", "844", "855", "866", "877", "888")

# Leading digits of the national number for each type outside the NANP.
NATIONAL_PREFIXES: dict[str, str] = {
    "local": "2",
    "mobile": "7",
    "national": "30",
    "toll_free": "800",
    "voip": "56",
    "shared_cost": "84",
    "machine_to_machine": "59",
}

END_USER_FIELDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "business": (
        ("business_name", "Business Name", ""),
        ("business_website", "Business Website", ""),
        (
            "business_registration_number",
            "Business Registration Number",
            "The registration number issued by the national company registry.",
        ),
        (
            "business_identity",
            "Business Classification",
            "Choose any one of the following values: [DIRECT_CUSTOMER, INDEPENDENT_SOFTWARE_VENDOR].",
        ),
        (
            "first_name",
            "Authorized Representative's First Name",
            "Authorized representative should be a senior manager.",
        ),
        ("last_name", "Authorized Representative's Last Name", "Authorized representative should be a senior manager."),
        ("email", "Authorized Representative's Contact Email", ""),
        (
            "is_subassigned",
            "Is this number being assigned to the end customer ?",
            "Choose any one of the following values : [YES, NO].",
        ),
        ("comments", "Comments (Optional)", "This is an optional field."),
    ),
    "individual": (
        ("first_name", "First Name", "First name of the Individual"),
        ("last_name", "Last Name", "Last name of the Individual"),
        ("birth_date", "Date of Birth", "Format: YYYY-MM-DD."),
        ("nationality", "Nationality", "Country of citizenship of the Individual"),
        ("mothers_name", "Mother's Name", ""),
        ("email", "Email", ""),
        ("id_number", "Identity Number", "The number printed on the identity document."),
    ),
}

CONSTRAINTS = ("String", "List", "Date", "Email")

# Supporting-document types: type | name | fields (comma separated).
DOCUMENT_TYPES = """\
utility_bill|Utility Bill|address_sids
business_registration|Business Registration|address_sids
tax_document|Tax Notice|address_sids
rental_receipt|Rent Receipt|address_sids
title_deed|Title Deed|address_sids
government_issued_document|Government-issued ID|address_sids
commercial_registrar_excerpt|Excerpt from the commercial register|business_name,business_registration_number
national_id_card|National ID|first_name,last_name
passport|Passport|first_name,last_name,birth_date
drivers_license|Driver's License|first_name,last_name
letter_of_authorization|Letter of Authorization|first_name,last_name
"""

# Supporting-document requirements: requirement_name, name, end-user types, accepted document types.
REQUIREMENTS: tuple[tuple[str, str, str, str], ...] = (
    (
        "business_address_proof_of_address_info",
        "Business Address",
        "business",
        "utility_bill,business_registration,tax_document,rental_receipt,title_deed",
    ),
    (
        "business_registration_info",
        "Business Registration",
        "business",
        "business_registration,commercial_registrar_excerpt",
    ),
    (
        "name_of_authorized_representative_info",
        "Name of Authorized Representative",
        "business",
        "national_id_card,passport,drivers_license",
    ),
    ("business_name_info", "Business Name", "business", "business_registration"),
    (
        "address_info",
        "Proof of Address",
        "individual",
        "government_issued_document,utility_bill,tax_document,rental_receipt,title_deed",
    ),
    ("identity_info", "Proof of Identity", "individual", "passport,national_id_card,drivers_license"),
    ("name_info", "Name", "individual", "passport,national_id_card"),
    ("loa_info", "Letter of Authorization", "business,individual", "letter_of_authorization"),
)

DESCRIPTIONS = (
    "",
    "",
    "May be anywhere in the world",
    "Must be within locality or region covered by the phone number's prefix; a PO Box is not acceptable "
    "where a local address is required.",
    "Must be in the same country as the phone number.",
    "The document must have been issued within the last 3 months.",
    "Must include the postal code and be within the region covered by the phone number's prefix.",
)

KEYPAD = {
    **dict.fromkeys("abc", "2"),
    **dict.fromkeys("def", "3"),
    **dict.fromkeys("ghi", "4"),
    **dict.fromkeys("jkl", "5"),
    **dict.fromkeys("mno", "6"),
    **dict.fromkeys("pqrs", "7"),
    **dict.fromkeys("tuv", "8"),
    **dict.fromkeys("wxyz", "9"),
}

# The real Indonesia toll-free business regulation (reference §5.3 b), verbatim but for `url`.
INDONESIA_TOLL_FREE_BUSINESS_JSON = r"""
{
    "sid": "RN581d4e917a8612eb36f0af24ecc6b592",
    "friendly_name": "Indonesia: Toll-Free - Business",
    "iso_country": "ID",
    "number_type": "toll-free",
    "end_user_type": "business",
    "requirements": {
        "end_user": [
            {
                "name": "Business",
                "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/EndUserTypes/business",
                "fields": [
                    "business_name"
                ],
                "detailed_fields": [
                    {
                        "machine_name": "business_name",
                        "friendly_name": "Business Name"
                    }
                ],
                "type": "business",
                "requirement_name": "business_info"
            }
        ],
        "supporting_document": [
            [
                {
                    "description": "May be anywhere in the world",
                    "type": "document",
                    "name": "Business Address",
                    "accepted_documents": [
                        {
                            "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/business_registration",
                            "fields": [
                                "address_sids"
                            ],
                            "detailed_fields": [
                                {
                                    "machine_name": "address_sids",
                                    "friendly_name": "Address Sid(s)"
                                }
                            ],
                            "type": "business_registration",
                            "name": "Business Registration"
                        },
                        {
                            "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/utility_bill",
                            "fields": [
                                "address_sids"
                            ],
                            "detailed_fields": [
                                {
                                    "machine_name": "address_sids",
                                    "friendly_name": "Address Sid(s)"
                                }
                            ],
                            "type": "utility_bill",
                            "name": "Utility Bill"
                        },
                        {
                            "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/tax_document",
                            "fields": [
                                "address_sids"
                            ],
                            "detailed_fields": [
                                {
                                    "machine_name": "address_sids",
                                    "friendly_name": "Address Sid(s)"
                                }
                            ],
                            "type": "tax_document",
                            "name": "Tax Notice"
                        },
                        {
                            "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/rental_receipt",
                            "fields": [
                                "address_sids"
                            ],
                            "detailed_fields": [
                                {
                                    "machine_name": "address_sids",
                                    "friendly_name": "Address Sid(s)"
                                }
                            ],
                            "type": "rental_receipt",
                            "name": "Rent Receipt"
                        },
                        {
                            "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/title_deed",
                            "fields": [
                                "address_sids"
                            ],
                            "detailed_fields": [
                                {
                                    "machine_name": "address_sids",
                                    "friendly_name": "Address Sid(s)"
                                }
                            ],
                            "type": "title_deed",
                            "name": "Title Deed"
                        }
                    ],
                    "requirement_name": "business_address_proof_of_address_info"
                },
                {
                    "description": "",
                    "type": "document",
                    "name": "Name of Authorized Representative",
                    "accepted_documents": [
                        {
                            "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/national_id_card",
                            "fields": [
                                "first_name",
                                "last_name"
                            ],
                            "detailed_fields": [
                                {
                                    "machine_name": "first_name",
                                    "friendly_name": "First Name"
                                },
                                {
                                    "machine_name": "last_name",
                                    "friendly_name": "Last Name"
                                }
                            ],
                            "type": "national_id_card",
                            "name": "National ID for Indonesian citizens"
                        },
                        {
                            "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/passport",
                            "fields": [
                                "first_name",
                                "last_name"
                            ],
                            "detailed_fields": [
                                {
                                    "machine_name": "first_name",
                                    "friendly_name": "First Name"
                                },
                                {
                                    "machine_name": "last_name",
                                    "friendly_name": "Last Name"
                                }
                            ],
                            "type": "passport",
                            "name": "Passport for non-Indonesians"
                        },
                        {
                            "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/residence_permit",
                            "fields": [
                                "first_name",
                                "last_name"
                            ],
                            "detailed_fields": [
                                {
                                    "machine_name": "first_name",
                                    "friendly_name": "First Name"
                                },
                                {
                                    "machine_name": "last_name",
                                    "friendly_name": "Last Name"
                                }
                            ],
                            "type": "residence_permit",
                            "name": "Residence Permit (KITAP/KITAS) for-non Indonesians"
                        }
                    ],
                    "requirement_name": "name_of_authorized_representative_info"
                },
                {
                    "description": "",
                    "type": "document",
                    "name": "Business Name",
                    "accepted_documents": [
                        {
                            "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/business_registration",
                            "fields": [
                                "business_name"
                            ],
                            "detailed_fields": [
                                {
                                    "machine_name": "business_name",
                                    "friendly_name": "Business Name"
                                }
                            ],
                            "type": "business_registration",
                            "name": "Business Registration"
                        }
                    ],
                    "requirement_name": "business_name_info"
                }
            ]
        ]
    }
}
"""
