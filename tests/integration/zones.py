"""DNS data for the integration tests: one record set holding every case."""

MANY_INCLUDES = " ".join(f"include:s{i}.many.com" for i in range(1, 12))
TEN_INCLUDES = " ".join(f"include:s{i}.many.com" for i in range(1, 11))
BIG_TXT = " ".join(f'"google-site-verification=token{i:03d}-{"x" * 40}"' for i in range(40))

RECORDS = f"""
; Microsoft 365, classic MX, full evidence
m365.com.tr. MX 10 m365-com-tr.mail.protection.outlook.com.
m365-com-tr.mail.protection.outlook.com. A 52.101.1.1
m365-com-tr.mail.protection.outlook.com. AAAA 2a01:111:f403::1
m365.com.tr. TXT "v=spf1 include:spf.protection.outlook.com -all"
m365.com.tr. TXT "MS=ms12345678"
spf.protection.outlook.com. TXT "v=spf1 ip4:40.92.0.0/15 include:spfd.protection.outlook.com -all"
spfd.protection.outlook.com. TXT "v=spf1 ip4:51.4.72.0/24 -all"
_dmarc.m365.com.tr. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@m365.com.tr"
selector1._domainkey.m365.com.tr. CNAME selector1-m365-com-tr._domainkey.m365tr.onmicrosoft.com.
selector2._domainkey.m365.com.tr. CNAME selector2-m365-com-tr._domainkey.m365tr.onmicrosoft.com.
selector1-m365-com-tr._domainkey.m365tr.onmicrosoft.com. TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEB"
autodiscover.m365.com.tr. CNAME autodiscover.outlook.com.
enterpriseregistration.m365.com.tr. CNAME enterpriseregistration.windows.net.
enterpriseenrollment.m365.com.tr. CNAME enterpriseenrollment.manage.microsoft.com.
lyncdiscover.m365.com.tr. CNAME webdir.online.lync.com.

; Microsoft's newer MX host form
newmx.com. MX 0 newmx-com.o-v1.mx.microsoft.

; Mimecast in front of Microsoft 365
gw.com.tr. MX 10 eu-smtp-inbound-1.mimecast.com.
gw.com.tr. MX 20 eu-smtp-inbound-2.mimecast.com.
gw.com.tr. TXT "v=spf1 include:_netblocks.mimecast.com include:spf.protection.outlook.com ~all"
_netblocks.mimecast.com. TXT "v=spf1 ip4:185.58.84.0/22 ~all"
autodiscover.gw.com.tr. CNAME autodiscover.outlook.com.

; Proofpoint with nothing behind it that names a mailbox
pp.com. MX 10 mx0a-001.pphosted.com.

; Google Workspace, SPF split over two character-strings, DMARC none at half coverage
google.com.tr. MX 1 aspmx.l.google.com.
google.com.tr. MX 5 alt1.aspmx.l.google.com.
google.com.tr. TXT "v=spf1 include:_spf.google.com" " ~all"
google.com.tr. TXT "google-site-verification=abc"
_spf.google.com. TXT "v=spf1 include:_netblocks.google.com ~all"
_netblocks.google.com. TXT "v=spf1 ip4:35.190.247.0/24 ~all"
google._domainkey.google.com.tr. TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkq"
_dmarc.google.com.tr. TXT "v=DMARC1; p=none; pct=50"

; GoDaddy shared hosting
godaddy.com.tr. MX 0 smtp.secureserver.net.
godaddy.com.tr. MX 10 mailstore1.secureserver.net.

; The company's own server, DNS at Natro
own.com.tr. MX 10 mail.own.com.tr.
mail.own.com.tr. A 94.73.150.10
own.com.tr. NS ns1.natrohost.com.
own.com.tr. NS ns2.natrohost.com.

; Cannot receive mail
nullmx.com. MX 0 .
nomx.com. A 203.0.113.5

; SPF trouble
loop.com. MX 10 mail.loop.com.
loop.com. TXT "v=spf1 include:a.loop.com -all"
a.loop.com. TXT "v=spf1 include:b.loop.com -all"
b.loop.com. TXT "v=spf1 include:a.loop.com -all"
many.com. MX 10 mail.many.com.
many.com. TXT "v=spf1 {MANY_INCLUDES} -all"
ten.com. MX 10 mail.ten.com.
ten.com. TXT "v=spf1 {TEN_INCLUDES} -all"
{chr(10).join(f's{i}.many.com. TXT "v=spf1 ip4:10.0.{i}.0/24 -all"' for i in range(1, 12))}
multi.com. MX 10 mail.multi.com.
multi.com. TXT "v=spf1 -all"
multi.com. TXT "v=spf1 ~all"
voids.com. MX 10 mail.voids.com.
voids.com. TXT "v=spf1 include:nx1.voids.com include:nx2.voids.com include:nx3.voids.com -all"
missing.com. MX 10 mail.missing.com.
missing.com. TXT "v=spf1 include:nospf.missing.com -all"
nospf.missing.com. A 192.0.2.1

; DMARC edge cases
dmarc1.com. MX 10 mail.dmarc1.com.
_dmarc.dmarc1.com. TXT "V=DMARC1 ; P=Quarantine ; PCT=25 ; RUA=mailto:a@x.com, mailto:b@y.com ;"
dmarc2.com. MX 10 mail.dmarc2.com.
_dmarc.dmarc2.com. TXT "v=DMARC1; p=bogus"
dmarc3.com. MX 10 mail.dmarc3.com.
_dmarc.dmarc3.com. TXT "v=DMARC1; p=reject"
_dmarc.dmarc3.com. TXT "v=DMARC1; p=none"

; An answer too big for UDP: the client must retry over TCP
big.com. MX 10 mail.big.com.
big.com. TXT "v=spf1 -all"
big.com. TXT {BIG_TXT}

; IDN
xn--irketim-8pb.com.tr. MX 10 xn--irketim-8pb-com-tr.mail.protection.outlook.com.

; Failures
!drop slow.com.
!servfail broken.com.
"""
