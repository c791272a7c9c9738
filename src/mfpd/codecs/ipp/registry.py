"""The attribute registry: the syntax of every IPP attribute the printer speaks.

Source: the IANA "Internet Printing Protocol (IPP) Registrations" registry
(www.iana.org/assignments/ipp-registrations), "Attributes" section, which collects RFC 8011
(IPP/1.1 model), RFC 3995/3996 (subscriptions, ippget), RFC 3998 (administration) and the PWG
5100.x standards: 5100.1 (finishings 2.1), 5100.3 (production printing: media-col, ...),
5100.5 (document object), 5100.6 (page overrides), 5100.7 (job extensions), 5100.9 (printer
state extensions: printer-supply, printer-input-tray, ...), 5100.11 (JPS2: job-password,
job-ids, ...), 5100.13 (JPS3: identify, printer-geo-location, ...), 5100.14 (IPP Everywhere)
and 5100.18/5100.22 where the printer needs them. The table below keeps the registry's
notation and layout: ``name  syntax``, member attributes of a collection indented two spaces
under it. Range and length qualifiers such as ``integer(1:MAX)`` are kept for the reader;
``text(N)``, ``name(N)`` and ``octetString(N)`` become `Syntax.max_length`.

Two shorthands of ours: ``=path`` after a collection syntax reuses the members of another
entry (``media-col-default  collection =media-col``), and ``+job-template`` adds every Job
Template attribute to the members (PWG 5100.6 ``overrides``, PWG 5100.13 resolvers and
presets hold "any Job Template attribute").

``attribute(name, *values)`` builds an `Attribute` with the tag the registry gives, so the
server never sends the wrong tag (an enum as integer, a keyword as name...). Every attribute
may carry an out-of-band value (RFC 8010 3.5.2) whatever its syntax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final, cast

from mfpd.codecs.ipp.tags import ValueTag
from mfpd.codecs.ipp.values import (
    Attribute,
    Collection,
    NameWithLanguage,
    OutOfBand,
    Range,
    Resolution,
    TextWithLanguage,
    Value,
)

__all__ = ["KINDS", "REGISTRY", "Syntax", "attribute", "names_of_kind", "syntax_for"]


@dataclass(frozen=True)
class Syntax:
    """The syntax of one attribute (RFC 8011 5.1, IANA registry notation).

    ``tags`` are the value tags the syntax allows, the usual one first (``keyword | name``
    gives (KEYWORD, NAME)); ``set_of`` is true for ``1setOf``; ``members`` is the member
    registry of a collection; ``max_length`` the N of text(N)/name(N)/octetString(N);
    ``kinds`` the registry sections naming it ("printer-description", ...).
    """

    tags: tuple[ValueTag, ...]
    set_of: bool = False
    members: Mapping[str, Syntax] | None = field(default=None, compare=False, hash=False)
    max_length: int | None = None
    kinds: frozenset[str] = frozenset()
    text: str = field(default="", compare=False)

    @property
    def tag(self) -> ValueTag:
        """The usual tag of this syntax."""
        return self.tags[0]

    @property
    def is_collection(self) -> bool:
        return ValueTag.BEG_COLLECTION in self.tags


# The registry. Sections follow the IANA "Attributes" registry headings.
_TABLE = """
[operation]
attributes-charset                     charset
attributes-natural-language            naturalLanguage
compression                            type2 keyword
compression-accepted                   1setOf type2 keyword
detailed-status-message                text(MAX)
document-access-error                  text(MAX)
document-charset                       charset
document-digital-signature             type2 keyword
document-format                        mimeMediaType
document-format-accepted               1setOf mimeMediaType
document-format-details                1setOf collection
  document-format                      mimeMediaType
  document-format-device-id            text(127)
  document-format-version              text(127)
  document-natural-language            1setOf naturalLanguage
  document-source-application-name     name(MAX)
  document-source-application-version  text(127)
  document-source-os-name              name(40)
  document-source-os-version           text(40)
document-format-version                text(127)
document-metadata                      1setOf octetString(MAX)
document-name                          name(MAX)
document-natural-language              naturalLanguage
document-number                        integer(1:MAX)
document-password                      octetString(1023)
document-uri                           uri
fetch-status-code                      type2 enum
fetch-status-message                   text(MAX)
first-index                            integer(1:MAX)
identify-actions                       1setOf type2 keyword
ipp-attribute-fidelity                 boolean
job-hold-until                         type2 keyword | name(MAX)
job-id                                 integer(1:MAX)
job-ids                                1setOf integer(1:MAX)
job-impressions                        integer(0:MAX)
job-k-octets                           integer(0:MAX)
job-mandatory-attributes               1setOf type2 keyword
job-media-sheets                       integer(0:MAX)
job-name                               name(MAX)
job-password                           octetString(255)
job-password-encryption                type2 keyword | name(MAX)
job-uri                                uri
last-document                          boolean
limit                                  integer(1:MAX)
message                                text(127)
my-jobs                                boolean
my-subscriptions                       boolean
notify-get-interval                    integer(0:MAX)
notify-job-id                          integer(1:MAX)
notify-sequence-numbers                1setOf integer(1:MAX)
notify-subscription-id                 integer(1:MAX)
notify-subscription-ids                1setOf integer(1:MAX)
notify-wait                            boolean
output-device-uuid                     uri(45)
preferred-attributes                   collection +job-template
printer-id                             integer(0:65535)
printer-message-from-operator          text(127)
printer-uri                            uri
requested-attributes                   1setOf type2 keyword
requesting-user-name                   name(MAX)
requesting-user-uri                    uri
requesting-user-vcard                  1setOf text(1023)
resource-id                            integer(1:MAX)
status-message                         text(255)
system-uri                             uri
which-jobs                             type2 keyword

[job-template]
confirmation-sheet-print               boolean
copies                                 integer(1:MAX)
cover-back                             collection
  cover-type                           type2 keyword
  media                                type2 keyword | name(MAX)
  media-col                            collection =media-col
cover-front                            collection =cover-back
feed-orientation                       type2 keyword
finishings                             1setOf type2 enum
finishings-col                         1setOf collection
  baling                               collection
    baling-type                        type2 keyword | name(MAX)
    baling-when                        type2 keyword
  binding                              collection
    binding-reference-edge             type2 keyword
    binding-type                       type2 keyword
  coating                              collection
    coating-sides                      type2 keyword
    coating-type                       type2 keyword | name(MAX)
  covering                             collection
    covering-name                      type2 keyword | name(MAX)
  finishing-template                   type2 keyword | name(MAX)
  folding                              1setOf collection
    folding-direction                  type2 keyword
    folding-offset                     integer(0:MAX)
    folding-reference-edge             type2 keyword
  imposition-template                  type2 keyword | name(MAX)
  laminating                           collection
    laminating-sides                   type2 keyword
    laminating-type                    type2 keyword | name(MAX)
  media-sheets-supported               rangeOfInteger(1:MAX)
  media-size                           collection =media-col/media-size
  media-size-name                      type2 keyword | name(MAX)
  punching                             collection
    punching-locations                 1setOf integer(0:MAX)
    punching-offset                    integer(0:MAX)
    punching-reference-edge            type2 keyword
  stitching                            collection
    stitching-angle                    integer(0:359)
    stitching-locations                1setOf integer(0:MAX)
    stitching-method                   type2 keyword
    stitching-offset                   integer(0:MAX)
    stitching-reference-edge           type2 keyword
  trimming                             1setOf collection
    trimming-offset                    integer(0:MAX)
    trimming-reference-edge            type2 keyword
    trimming-type                      type2 keyword
    trimming-when                      type2 keyword
font-name-requested                    name(MAX)
font-size-requested                    integer(1:MAX)
force-front-side                       1setOf integer(1:MAX)
imposition-template                    type2 keyword | name(MAX)
insert-sheet                           1setOf collection
  insert-after-page-number             integer(0:MAX)
  insert-count                         integer(0:MAX)
  media                                type2 keyword | name(MAX)
  media-col                            collection =media-col
job-account-id                         name(MAX)
job-account-type                       type2 keyword | name(MAX)
job-accounting-sheets                  collection
  job-accounting-output-bin            type2 keyword | name(MAX)
  job-accounting-sheets-type           type2 keyword | name(MAX)
  media                                type2 keyword | name(MAX)
  media-col                            collection =media-col
job-accounting-user-id                 name(MAX)
job-cancel-after                       integer(1:MAX)
job-copies                             integer(1:MAX)
job-cover-back                         collection =cover-back
job-cover-front                        collection =cover-back
job-delay-output-until                 type2 keyword | name(MAX)
job-delay-output-until-time            dateTime
job-error-action                       type2 keyword
job-error-sheet                        collection
  job-error-sheet-type                 type2 keyword | name(MAX)
  job-error-sheet-when                 type2 keyword
  media                                type2 keyword | name(MAX)
  media-col                            collection =media-col
job-finishings                         1setOf type2 enum
job-finishings-col                     1setOf collection =finishings-col
job-hold-until                         type2 keyword | name(MAX)
job-hold-until-time                    dateTime
job-message-to-operator                text(MAX)
job-pages-per-set                      integer(1:MAX)
job-phone-number                       uri
job-priority                           integer(1:100)
job-recipient-name                     name(MAX)
job-retain-until                       type2 keyword | name(MAX)
job-retain-until-interval              integer(0:MAX)
job-retain-until-time                  dateTime
job-sheet-message                      text(MAX)
job-sheets                             type2 keyword | name(MAX)
job-sheets-col                         collection
  job-sheets                           type2 keyword | name(MAX)
  media                                type2 keyword | name(MAX)
  media-col                            collection =media-col
media                                  type2 keyword | name(MAX)
media-input-tray-check                 type2 keyword | name(MAX)
media-col                              collection
  media-back-coating                   type2 keyword | name(MAX)
  media-bottom-margin                  integer(0:MAX)
  media-color                          type2 keyword | name(MAX)
  media-front-coating                  type2 keyword | name(MAX)
  media-grain                          type2 keyword | name(MAX)
  media-hole-count                     integer(0:MAX)
  media-info                           text(255)
  media-key                            type2 keyword | name(MAX)
  media-left-margin                    integer(0:MAX)
  media-order-count                    integer(1:MAX)
  media-pre-printed                    type2 keyword | name(MAX)
  media-recycled                       type2 keyword | name(MAX)
  media-right-margin                   integer(0:MAX)
  media-size                           collection
    x-dimension                        integer(1:MAX) | rangeOfInteger(1:MAX)
    y-dimension                        integer(1:MAX) | rangeOfInteger(1:MAX)
  media-size-name                      type2 keyword | name(MAX)
  media-source                         type2 keyword | name(MAX)
  media-source-properties              collection
    media-source-feed-direction        type2 keyword
    media-source-feed-orientation      type2 enum
  media-thickness                      integer(1:MAX)
  media-tooth                          type2 keyword | name(MAX)
  media-top-margin                     integer(0:MAX)
  media-top-offset                     integer(MIN:MAX)
  media-tracking                       type2 keyword
  media-type                           type2 keyword | name(MAX)
  media-weight-metric                  integer(0:MAX)
multiple-document-handling             type2 keyword
number-of-retries                      integer(0:MAX)
number-up                              integer(1:MAX)
orientation-requested                  type2 enum
output-bin                             type2 keyword | name(MAX)
output-device                          name(127)
overrides                              1setOf collection +job-template
  document-copies                      1setOf rangeOfInteger(1:MAX)
  document-number                      1setOf rangeOfInteger(1:MAX)
  document-numbers                     1setOf rangeOfInteger(1:MAX)
  pages                                1setOf rangeOfInteger(1:MAX)
page-delivery                          type2 keyword
page-order-received                    type2 keyword
page-ranges                            1setOf rangeOfInteger(1:MAX)
pages-per-subset                       1setOf integer(1:MAX)
pdl-init-file                          1setOf collection
  pdl-init-file-entry                  name(MAX)
  pdl-init-file-location               uri
  pdl-init-file-name                   name(MAX)
presentation-direction-number-up       type2 keyword
print-color-mode                       type2 keyword
print-content-optimize                 type2 keyword
print-darkness                         integer(-100:100)
print-quality                          type2 enum
print-rendering-intent                 type2 keyword
print-scaling                          type2 keyword
printer-resolution                     resolution
proof-print                            collection
  media                                type2 keyword | name(MAX)
  media-col                            collection =media-col
  proof-print-copies                   integer(0:MAX)
retry-interval                         integer(1:MAX)
retry-time-out                         integer(1:MAX)
separator-sheets                       collection
  media                                type2 keyword | name(MAX)
  media-col                            collection =media-col
  separator-sheets-type                1setOf type2 keyword
sheet-collate                          type2 keyword
sides                                  type2 keyword
x-image-position                       type2 keyword
x-image-shift                          integer(MIN:MAX)
x-side1-image-shift                    integer(MIN:MAX)
x-side2-image-shift                    integer(MIN:MAX)
y-image-position                       type2 keyword
y-image-shift                          integer(MIN:MAX)
y-side1-image-shift                    integer(MIN:MAX)
y-side2-image-shift                    integer(MIN:MAX)

[job-description]
compression-supplied                   type2 keyword
date-time-at-completed                 dateTime | no-value
date-time-at-creation                  dateTime
date-time-at-processing                dateTime | no-value
document-charset-supplied              charset
document-format-details-supplied       1setOf collection =document-format-details
document-format-supplied               mimeMediaType
document-format-version-supplied       text(127)
document-message-supplied              text(MAX)
document-metadata                      1setOf octetString(MAX)
document-name-supplied                 name(MAX)
document-natural-language-supplied     naturalLanguage
errors-count                           integer(0:MAX)
impressions-completed-current-copy     integer(0:MAX)
job-account-id-actual                  1setOf name(MAX)
job-attribute-fidelity                 boolean
job-collation-type                     type2 enum
job-detailed-status-messages           1setOf text(MAX)
job-document-access-errors             1setOf text(MAX)
job-id                                 integer(1:MAX)
job-impressions                        integer(0:MAX)
job-impressions-col                    collection
  blank                                integer(0:MAX)
  blank-two-sided                      integer(0:MAX)
  full-color                           integer(0:MAX)
  full-color-two-sided                 integer(0:MAX)
  highlight-color                      integer(0:MAX)
  highlight-color-two-sided            integer(0:MAX)
  monochrome                           integer(0:MAX)
  monochrome-two-sided                 integer(0:MAX)
job-impressions-completed              integer(0:MAX)
job-impressions-completed-col          collection =job-impressions-col
job-k-octets                           integer(0:MAX)
job-k-octets-processed                 integer(0:MAX)
job-mandatory-attributes               1setOf type2 keyword
job-media-sheets                       integer(0:MAX)
job-media-sheets-col                   collection
  blank                                integer(0:MAX)
  full-color                           integer(0:MAX)
  highlight-color                      integer(0:MAX)
  monochrome                           integer(0:MAX)
job-media-sheets-completed             integer(0:MAX)
job-media-sheets-completed-col         collection =job-media-sheets-col
job-message-from-operator              text(127)
job-more-info                          uri
job-name                               name(MAX)
job-originating-user-name              name(MAX)
job-originating-user-uri               uri
job-pages                              integer(0:MAX)
job-pages-col                          collection
  full-color                           integer(0:MAX)
  monochrome                           integer(0:MAX)
job-pages-completed                    integer(0:MAX)
job-pages-completed-col                collection =job-pages-col
job-pages-completed-current-copy       integer(0:MAX)
job-printer-state-message              text(MAX)
job-printer-state-reasons              1setOf type2 keyword
job-printer-up-time                    integer(1:MAX)
job-printer-uri                        uri
job-processing-time                    integer(0:MAX)
job-release-action                     type2 keyword
job-state                              type1 enum
job-state-message                      text(MAX)
job-state-reasons                      1setOf type2 keyword
job-uri                                uri
job-uuid                               uri(45)
number-of-documents                    integer(0:MAX)
number-of-intervening-jobs             integer(0:MAX)
original-requesting-user-name          name(MAX)
output-device-assigned                 name(127)
output-device-job-state                type1 enum
output-device-job-state-message        text(MAX)
output-device-job-state-reasons        1setOf type2 keyword
output-device-uuid-assigned            uri(45)
pages-completed                        integer(0:MAX)
pages-completed-current-copy           integer(0:MAX)
sheet-completed-copy-number            integer(0:MAX)
sheet-completed-document-number        integer(0:MAX)
time-at-completed                      integer(MIN:MAX) | no-value
time-at-creation                       integer(MIN:MAX)
time-at-processing                     integer(MIN:MAX) | no-value
warnings-count                         integer(0:MAX)

[printer-description]
charset-configured                     charset
charset-supported                      1setOf charset
color-supported                        boolean
compression-supported                  1setOf type2 keyword
confirmation-sheet-print-default       boolean
copies-default                         integer(1:MAX)
copies-supported                       rangeOfInteger(1:MAX)
cover-back-default                     collection =cover-back
cover-back-supported                   1setOf type2 keyword
cover-front-default                    collection =cover-back
cover-front-supported                  1setOf type2 keyword
document-charset-default               charset
document-charset-supported             1setOf charset
document-creation-attributes-supported 1setOf type2 keyword
document-format-default                mimeMediaType
document-format-details-supported      1setOf type2 keyword
document-format-preferred              mimeMediaType
document-format-supported              1setOf mimeMediaType
document-format-varying-attributes     1setOf type2 keyword
document-format-version-default        text(127)
document-format-version-supported      1setOf text(127)
document-natural-language-default      naturalLanguage
document-natural-language-supported    1setOf naturalLanguage
document-password-supported            integer(0:1023)
document-privacy-attributes            1setOf type2 keyword
document-privacy-scope                 type2 keyword
feed-orientation-default               type2 keyword
feed-orientation-supported             1setOf type2 keyword
finishing-template-supported           1setOf type2 keyword | name(MAX)
finishings-col-database                1setOf collection =finishings-col
finishings-col-default                 1setOf collection =finishings-col
finishings-col-ready                   1setOf collection =finishings-col
finishings-col-supported               1setOf type2 keyword
finishings-default                     1setOf type2 enum
finishings-ready                       1setOf type2 enum
finishings-supported                   1setOf type2 enum
font-name-requested-default            name(MAX)
font-name-requested-supported          1setOf name(MAX)
font-size-requested-default            integer(1:MAX)
font-size-requested-supported          1setOf rangeOfInteger(1:MAX)
force-front-side-default               1setOf integer(1:MAX)
force-front-side-supported             rangeOfInteger(1:MAX)
generated-natural-language-supported   1setOf naturalLanguage
identify-actions-default               1setOf type2 keyword
identify-actions-supported             1setOf type2 keyword
imposition-template-default            type2 keyword | name(MAX)
imposition-template-supported          1setOf type2 keyword | name(MAX)
insert-sheet-default                   1setOf collection =insert-sheet
insert-sheet-supported                 1setOf type2 keyword
ipp-features-supported                 1setOf type2 keyword
ipp-versions-supported                 1setOf type2 keyword
ippget-event-life                      integer(15:MAX)
job-account-id-default                 name(MAX) | no-value
job-account-id-supported               boolean
job-account-type-default               type2 keyword | name(MAX)
job-account-type-supported             1setOf type2 keyword | name(MAX)
job-accounting-sheets-default          collection =job-accounting-sheets | no-value
job-accounting-sheets-supported        1setOf type2 keyword
job-accounting-user-id-default         name(MAX) | no-value
job-accounting-user-id-supported       boolean
job-authorization-uri-supported        boolean
job-cancel-after-default               integer(1:MAX) | no-value
job-cancel-after-supported             rangeOfInteger(1:MAX)
job-constraints-supported              1setOf collection +job-template
  resolver-name                        name(MAX)
job-creation-attributes-supported      1setOf type2 keyword
job-delay-output-until-default         type2 keyword | name(MAX)
job-delay-output-until-supported       1setOf type2 keyword | name(MAX)
job-delay-output-until-time-supported  rangeOfInteger(0:MAX)
job-error-action-default               type2 keyword
job-error-action-supported             1setOf type2 keyword
job-error-sheet-default                collection =job-error-sheet | no-value
job-error-sheet-supported              1setOf type2 keyword
job-hold-until-default                 type2 keyword | name(MAX)
job-hold-until-supported               1setOf type2 keyword | name(MAX)
job-hold-until-time-supported          rangeOfInteger(0:MAX)
job-ids-supported                      boolean
job-impressions-supported              rangeOfInteger(0:MAX)
job-k-octets-supported                 rangeOfInteger(0:MAX)
job-media-sheets-supported             rangeOfInteger(0:MAX)
job-message-to-operator-default        text(MAX)
job-message-to-operator-supported      boolean
job-pages-per-set-supported            boolean
job-password-encryption-supported      1setOf type2 keyword | name(MAX)
job-password-length-supported          rangeOfInteger(0:255)
job-password-repertoire-configured     type2 keyword | name(MAX)
job-password-repertoire-supported      1setOf type2 keyword | name(MAX)
job-password-supported                 integer(0:255)
job-phone-number-default               uri | no-value
job-phone-number-supported             boolean
job-presets-supported                  1setOf collection +job-template
  preset-category                      type2 keyword | name(MAX)
  preset-name                          type2 keyword | name(MAX)
job-priority-default                   integer(1:100)
job-priority-supported                 integer(1:100)
job-privacy-attributes                 1setOf type2 keyword
job-privacy-scope                      type2 keyword
job-recipient-name-supported           boolean
job-release-action-default             type2 keyword
job-release-action-supported           1setOf type2 keyword
job-resolvers-supported                1setOf collection +job-template
  resolver-name                        name(MAX)
job-retain-until-default               type2 keyword | name(MAX)
job-retain-until-interval-default      integer(0:MAX)
job-retain-until-interval-supported    rangeOfInteger(0:MAX)
job-retain-until-supported             1setOf type2 keyword | name(MAX)
job-retain-until-time-supported        rangeOfInteger(0:MAX)
job-settable-attributes-supported      1setOf type2 keyword
job-sheet-message-supported            boolean
job-sheets-col-default                 collection =job-sheets-col
job-sheets-col-supported               1setOf type2 keyword
job-sheets-default                     type2 keyword | name(MAX)
job-sheets-supported                   1setOf type2 keyword | name(MAX)
job-spooling-supported                 type2 keyword
jpeg-features-supported                1setOf type2 keyword
jpeg-k-octets-supported                rangeOfInteger(0:MAX)
jpeg-x-dimension-supported             rangeOfInteger(0:65535)
jpeg-y-dimension-supported             rangeOfInteger(1:65535)
max-page-ranges-supported              integer(1:MAX)
media-back-coating-supported           1setOf type2 keyword | name(MAX)
media-bottom-margin-supported          1setOf integer(0:MAX)
media-col-database                     1setOf collection =media-col
media-col-default                      collection =media-col | no-value
media-col-ready                        1setOf collection =media-col | no-value
media-col-supported                    1setOf type2 keyword
media-color-supported                  1setOf type2 keyword | name(MAX)
media-default                          type2 keyword | name(MAX) | no-value
media-front-coating-supported          1setOf type2 keyword | name(MAX)
media-grain-supported                  1setOf type2 keyword | name(MAX)
media-hole-count-supported             1setOf rangeOfInteger(0:MAX)
media-info-supported                   boolean
media-key-supported                    1setOf type2 keyword | name(MAX)
media-left-margin-supported            1setOf integer(0:MAX)
media-order-count-supported            1setOf rangeOfInteger(1:MAX)
media-pre-printed-supported            1setOf type2 keyword | name(MAX)
media-ready                            1setOf type2 keyword | name(MAX) | no-value
media-recycled-supported               1setOf type2 keyword | name(MAX)
media-right-margin-supported           1setOf integer(0:MAX)
media-size-supported                   1setOf collection =media-col/media-size
media-source-supported                 1setOf type2 keyword | name(MAX)
media-supported                        1setOf type2 keyword | name(MAX)
media-thickness-supported              rangeOfInteger(1:MAX)
media-tooth-supported                  1setOf type2 keyword | name(MAX)
media-top-margin-supported             1setOf integer(0:MAX)
media-top-offset-supported             1setOf rangeOfInteger(MIN:MAX)
media-tracking-supported               1setOf type2 keyword
media-type-supported                   1setOf type2 keyword | name(MAX)
media-weight-metric-supported          1setOf rangeOfInteger(0:MAX)
mopria-certified                       text(MAX)
multiple-document-handling-default     type2 keyword
multiple-document-handling-supported   1setOf type2 keyword
multiple-document-jobs-supported       boolean
multiple-operation-time-out            integer(1:MAX)
multiple-operation-time-out-action     type2 keyword
natural-language-configured            naturalLanguage
notify-attributes-supported            1setOf type2 keyword
notify-events-default                  1setOf type2 keyword
notify-events-supported                1setOf type2 keyword
notify-lease-duration-default          integer(0:67108863)
notify-lease-duration-supported        1setOf integer(0:67108863) | rangeOfInteger(0:67108863)
notify-max-events-supported            integer(2:MAX)
notify-pull-method-supported           1setOf type2 keyword
notify-schemes-supported               1setOf uriScheme
number-of-retries-default              integer(0:MAX)
number-of-retries-supported            rangeOfInteger(0:MAX)
number-up-default                      integer(1:MAX)
number-up-supported                    1setOf integer(1:MAX) | rangeOfInteger(1:MAX)
operations-supported                   1setOf type2 enum
orientation-requested-default          type2 enum | no-value
orientation-requested-supported        1setOf type2 enum
output-bin-default                     type2 keyword | name(MAX)
output-bin-supported                   1setOf type2 keyword | name(MAX)
overrides-supported                    1setOf type2 keyword
page-delivery-default                  type2 keyword
page-delivery-supported                1setOf type2 keyword
page-order-received-default            type2 keyword
page-order-received-supported          1setOf type2 keyword
page-ranges-supported                  boolean
pages-per-minute                       integer(0:MAX)
pages-per-minute-color                 integer(0:MAX)
pages-per-subset-supported             boolean
pdf-k-octets-supported                 rangeOfInteger(0:MAX)
pdf-versions-supported                 1setOf type2 keyword
pdl-init-file-default                  1setOf collection =pdl-init-file | no-value
pdl-init-file-entry-supported          1setOf name(MAX)
pdl-init-file-location-supported       1setOf uri
pdl-init-file-name-subdirectory-supported boolean
pdl-init-file-name-supported           1setOf name(MAX)
pdl-init-file-supported                1setOf type2 keyword
pdl-override-supported                 type2 keyword
preferred-attributes-supported         boolean
presentation-direction-number-up-default type2 keyword
presentation-direction-number-up-supported 1setOf type2 keyword
print-color-mode-default               type2 keyword
print-color-mode-supported             1setOf type2 keyword
print-content-optimize-default         type2 keyword
print-content-optimize-supported       1setOf type2 keyword
print-darkness-default                 integer(-100:100)
print-darkness-supported               integer(0:100)
print-quality-default                  type2 enum
print-quality-supported                1setOf type2 enum
print-rendering-intent-default         type2 keyword
print-rendering-intent-supported       1setOf type2 keyword
print-scaling-default                  type2 keyword
print-scaling-supported                1setOf type2 keyword
printer-alert                          1setOf octetString(MAX)
printer-alert-description              1setOf text(MAX)
printer-charge-info                    text(MAX)
printer-charge-info-uri                uri
printer-config-change-date-time        dateTime
printer-config-change-time             integer(1:MAX)
printer-contact-col                    collection | unknown
  contact-name                         name(MAX)
  contact-uri                          uri
  contact-vcard                        1setOf text(MAX)
printer-current-time                   dateTime | unknown
printer-darkness-configured            integer(0:100)
printer-darkness-supported             integer(0:100)
printer-detailed-status-messages       1setOf text(MAX)
printer-device-id                      text(1023)
printer-dns-sd-name                    name(63) | no-value
printer-driver-installer               uri
printer-finisher                       1setOf octetString(MAX)
printer-finisher-description           1setOf text(MAX)
printer-finisher-supplies              1setOf octetString(MAX)
printer-finisher-supplies-description  1setOf text(MAX)
printer-firmware-name                  1setOf name(MAX)
printer-firmware-patches               1setOf text(MAX)
printer-firmware-string-version        1setOf text(MAX)
printer-firmware-version               1setOf octetString(64)
printer-geo-location                   uri | unknown
printer-get-attributes-supported       1setOf type2 keyword
printer-icc-profiles                   1setOf collection
  profile-name                         name(MAX)
  profile-url                          uri
printer-icons                          1setOf uri
printer-id                             integer(1:65535)
printer-impressions-completed          integer(0:MAX)
printer-impressions-completed-col      collection =job-impressions-col
printer-info                           text(127)
printer-input-tray                     1setOf octetString(MAX)
printer-is-accepting-jobs              boolean
printer-kind                           1setOf type2 keyword
printer-location                       text(127)
printer-make-and-model                 text(127)
printer-mandatory-job-attributes       1setOf type2 keyword
printer-media-sheets-completed         integer(0:MAX)
printer-media-sheets-completed-col     collection =job-media-sheets-col
printer-message-date-time              dateTime
printer-message-from-operator          text(127)
printer-message-time                   integer(MIN:MAX)
printer-more-info                      uri
printer-more-info-manufacturer         uri
printer-name                           name(127)
printer-organization                   1setOf text(MAX)
printer-organizational-unit            1setOf text(MAX)
printer-output-tray                    1setOf octetString(MAX)
printer-pages-completed                integer(0:MAX)
printer-pages-completed-col            collection =job-pages-col
printer-resolution-default             resolution
printer-resolution-supported           1setOf resolution
printer-service-contact-col            collection =printer-contact-col | unknown
printer-settable-attributes-supported  1setOf type2 keyword
printer-state                          type1 enum
printer-state-change-date-time         dateTime
printer-state-change-time              integer(1:MAX)
printer-state-message                  text(MAX)
printer-state-reasons                  1setOf type2 keyword
printer-static-resource-directory-uri  uri
printer-static-resource-k-octets-free  integer(0:MAX)
printer-static-resource-k-octets-supported integer(0:MAX)
printer-strings-languages-supported    1setOf naturalLanguage
printer-strings-uri                    uri | no-value
printer-supply                         1setOf octetString(MAX)
printer-supply-description             1setOf text(MAX)
printer-supply-info-uri                uri
printer-up-time                        integer(1:MAX)
printer-uri-supported                  1setOf uri
printer-uuid                           uri(45)
printer-xri-supported                  1setOf collection
  xri-authentication                   type2 keyword
  xri-security                         type2 keyword
  xri-uri                              uri
proof-print-default                    collection =proof-print | no-value
proof-print-supported                  1setOf type2 keyword
pwg-raster-document-resolution-supported 1setOf resolution
pwg-raster-document-sheet-back         type2 keyword
pwg-raster-document-type-supported     1setOf type2 keyword
queued-job-count                       integer(0:MAX)
reference-uri-schemes-supported        1setOf uriScheme
requesting-user-uri-supported          boolean
retry-interval-default                 integer(1:MAX)
retry-interval-supported               rangeOfInteger(1:MAX)
retry-time-out-default                 integer(1:MAX)
retry-time-out-supported               rangeOfInteger(1:MAX)
separator-sheets-default               collection =separator-sheets
separator-sheets-supported             1setOf type2 keyword
sheet-collate-default                  type2 keyword
sheet-collate-supported                1setOf type2 keyword
sides-default                          type2 keyword
sides-supported                        1setOf type2 keyword
urf-supported                          1setOf keyword
uri-authentication-supported           1setOf type2 keyword
uri-security-supported                 1setOf type2 keyword
which-jobs-supported                   1setOf type2 keyword
x-image-position-default               type2 keyword
x-image-position-supported             1setOf type2 keyword
x-image-shift-default                  integer(MIN:MAX)
x-image-shift-supported                rangeOfInteger(MIN:MAX)
x-side1-image-shift-default            integer(MIN:MAX)
x-side1-image-shift-supported          rangeOfInteger(MIN:MAX)
x-side2-image-shift-default            integer(MIN:MAX)
x-side2-image-shift-supported          rangeOfInteger(MIN:MAX)
y-image-position-default               type2 keyword
y-image-position-supported             1setOf type2 keyword
y-image-shift-default                  integer(MIN:MAX)
y-image-shift-supported                rangeOfInteger(MIN:MAX)
y-side1-image-shift-default            integer(MIN:MAX)
y-side1-image-shift-supported          rangeOfInteger(MIN:MAX)
y-side2-image-shift-default            integer(MIN:MAX)
y-side2-image-shift-supported          rangeOfInteger(MIN:MAX)

[document-description]
compression                            type2 keyword
date-time-at-completed                 dateTime | no-value
date-time-at-creation                  dateTime
date-time-at-processing                dateTime | no-value
document-access-errors                 1setOf text(MAX)
document-charset                       charset
document-format                        mimeMediaType
document-format-detected               mimeMediaType
document-format-version                text(127)
document-job-id                        integer(1:MAX)
document-job-uri                       uri
document-message                       text(MAX)
document-metadata                      1setOf octetString(MAX)
document-name                          name(MAX)
document-natural-language              naturalLanguage
document-number                        integer(1:MAX)
document-printer-uri                   uri
document-state                         type1 enum
document-state-message                 text(MAX)
document-state-reasons                 1setOf type2 keyword
document-uri                           uri
document-uuid                          uri(45)
errors-count                           integer(0:MAX)
impressions                            integer(0:MAX)
impressions-completed                  integer(0:MAX)
k-octets                               integer(0:MAX)
k-octets-processed                     integer(0:MAX)
last-document                          boolean
media-sheets                           integer(0:MAX)
media-sheets-completed                 integer(0:MAX)
more-info                              uri
output-device-assigned                 name(127)
pages                                  integer(0:MAX)
pages-completed                        integer(0:MAX)
printer-up-time                        integer(1:MAX)
time-at-completed                      integer(MIN:MAX) | no-value
time-at-creation                       integer(MIN:MAX)
time-at-processing                     integer(MIN:MAX) | no-value
warnings-count                         integer(0:MAX)

[subscription-template]
notify-attributes                      1setOf type2 keyword
notify-charset                         charset
notify-events                          1setOf type2 keyword
notify-lease-duration                  integer(0:67108863)
notify-natural-language                naturalLanguage
notify-pull-method                     type2 keyword
notify-recipient-uri                   uri
notify-time-interval                   integer(0:MAX)
notify-user-data                       octetString(63)

[subscription-description]
notify-job-id                          integer(1:MAX)
notify-lease-expiration-time           integer(0:MAX)
notify-printer-up-time                 integer(1:MAX)
notify-printer-uri                     uri
notify-resource-id                     integer(1:MAX)
notify-sequence-number                 integer(0:MAX)
notify-subscriber-user-name            name(MAX)
notify-subscriber-user-uri             uri
notify-subscription-id                 integer(1:MAX)
notify-subscription-uuid               uri(45)
notify-system-uri                      uri

[event-notification]
job-id                                 integer(1:MAX)
job-impressions-completed              integer(0:MAX)
job-state                              type1 enum
job-state-reasons                      1setOf type2 keyword
job-uuid                               uri(45)
notify-charset                         charset
notify-job-id                          integer(1:MAX)
notify-natural-language                naturalLanguage
notify-printer-uri                     uri
notify-sequence-number                 integer(0:MAX)
notify-status-code                     type2 enum
notify-subscribed-event                type2 keyword
notify-subscription-id                 integer(1:MAX)
notify-subscription-uuid               uri(45)
notify-text                            text(MAX)
notify-user-data                       octetString(63)
printer-current-time                   dateTime | unknown
printer-is-accepting-jobs              boolean
printer-name                           name(127)
printer-state                          type1 enum
printer-state-reasons                  1setOf type2 keyword
printer-up-time                        integer(1:MAX)
printer-uri                            uri
"""

KINDS: Final = (
    "operation",
    "job-template",
    "job-description",
    "printer-description",
    "document-description",
    "subscription-template",
    "subscription-description",
    "event-notification",
)

_BASE_TAGS: Final[dict[str, ValueTag]] = {
    "keyword": ValueTag.KEYWORD,
    "enum": ValueTag.ENUM,
    "integer": ValueTag.INTEGER,
    "boolean": ValueTag.BOOLEAN,
    "text": ValueTag.TEXT,
    "name": ValueTag.NAME,
    "uri": ValueTag.URI,
    "uriScheme": ValueTag.URI_SCHEME,
    "charset": ValueTag.CHARSET,
    "naturalLanguage": ValueTag.NATURAL_LANGUAGE,
    "mimeMediaType": ValueTag.MIME_MEDIA_TYPE,
    "octetString": ValueTag.OCTET_STRING,
    "dateTime": ValueTag.DATE_TIME,
    "resolution": ValueTag.RESOLUTION,
    "rangeOfInteger": ValueTag.RANGE_OF_INTEGER,
    "collection": ValueTag.BEG_COLLECTION,
    "no-value": ValueTag.NO_VALUE,
    "unknown": ValueTag.UNKNOWN,
}
_ALT = re.compile(r"(?:type[123] )?([A-Za-z-]+)(?:\(([^)]*)\))?")


@dataclass
class _Entry:
    """A parsed table line, before references are resolved."""

    name: str
    text: str
    tags: tuple[ValueTag, ...]
    set_of: bool
    max_length: int | None
    ref: str | None
    add_job_template: bool
    members: dict[str, _Entry]


def _parse_syntax(name: str, text: str) -> _Entry:
    rest = text
    ref = None
    add_jt = False
    words = []
    for word in rest.split():
        if word.startswith("="):
            ref = word[1:]
        elif word == "+job-template":
            add_jt = True
        else:
            words.append(word)
    rest = " ".join(words)
    set_of = rest.startswith("1setOf ")
    if set_of:
        rest = rest[len("1setOf ") :]
    tags: list[ValueTag] = []
    max_length = None
    for alt in rest.split("|"):
        m = _ALT.fullmatch(alt.strip())
        if m is None or m.group(1) not in _BASE_TAGS:
            raise ValueError(f"registry: cannot read syntax {text!r} of {name!r}")
        tag = _BASE_TAGS[m.group(1)]
        tags.append(tag)
        arg = m.group(2)
        if tag in (ValueTag.TEXT, ValueTag.NAME, ValueTag.OCTET_STRING) and arg and arg.isdigit():
            max_length = int(arg)
    return _Entry(name, text, tuple(tags), set_of, max_length, ref, add_jt, {})


def _parse_table(table: str) -> dict[str, list[_Entry]]:
    """Section name -> top-level entries, members nested by indentation."""
    sections: dict[str, list[_Entry]] = {}
    current: list[_Entry] | None = None
    stack: list[_Entry] = []
    for line in table.splitlines():
        if not line.strip():
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[] "), [])
            stack = []
            continue
        indent = (len(line) - len(line.lstrip(" "))) // 2
        name, _, text = line.strip().partition(" ")
        entry = _parse_syntax(name, text.strip())
        if current is None or indent > len(stack):
            raise ValueError(f"registry: misplaced line {line!r}")
        del stack[indent:]
        if indent == 0:
            current.append(entry)
        else:
            stack[-1].members[name] = entry
        stack.append(entry)
    return sections


def _build() -> dict[str, Syntax]:
    sections = _parse_table(_TABLE)
    top: dict[str, _Entry] = {}
    kinds: dict[str, set[str]] = {}
    for kind, entries in sections.items():
        for e in entries:
            old = top.get(e.name)
            if old is not None and (old.tags, old.set_of) != (e.tags, e.set_of):
                raise ValueError(f"registry: {e.name!r} has two syntaxes")
            if old is None or (e.members and not old.members):
                top[e.name] = e
            kinds.setdefault(e.name, set()).add(kind)

    def find(path: str) -> _Entry:
        head, *tail = path.split("/")
        e = top[head]
        for part in tail:
            e = e.members[part]
        return e

    job_template = sections["job-template"]
    done: dict[int, Syntax] = {}

    def convert(e: _Entry, entry_kinds: frozenset[str]) -> Syntax:
        key = id(e)
        if key in done:
            return done[key]
        members: dict[str, Syntax] | None = None
        if ValueTag.BEG_COLLECTION in e.tags:
            source = find(e.ref) if e.ref else e
            members = {}
            if e.add_job_template:
                for jt in job_template:
                    if jt is e:  # overrides hold job template attributes, not overrides
                        continue
                    members[jt.name] = convert(jt, frozenset({"job-template"}))
            for mname, m in source.members.items():
                members[mname] = convert(m, frozenset())
            for mname, m in e.members.items():
                members[mname] = convert(m, frozenset())
        syntax = Syntax(
            e.tags,
            e.set_of,
            None if members is None else MappingProxyType(members),
            e.max_length,
            entry_kinds,
            e.text,
        )
        done[key] = syntax
        return syntax

    # Entries that only reference others must be built after them, so resolve the
    # job-template section first (it is what "+job-template" copies).
    out: dict[str, Syntax] = {}
    for e in job_template:
        out[e.name] = convert(e, frozenset(kinds[e.name]))
    for name in sorted(top):
        if name not in out:
            out[name] = convert(top[name], frozenset(kinds[name]))
    return out


REGISTRY: Final[Mapping[str, Syntax]] = MappingProxyType(_build())


def syntax_for(name: str) -> Syntax | None:
    """The registered syntax of a top-level attribute, or None if unknown."""
    return REGISTRY.get(name)


def names_of_kind(kind: str) -> list[str]:
    """Attribute names registered under a section of `KINDS`, e.g. "job-template"."""
    return sorted(n for n, s in REGISTRY.items() if kind in s.kinds)


_STRING_TAGS: Final = (
    ValueTag.KEYWORD,
    ValueTag.NAME,
    ValueTag.TEXT,
    ValueTag.URI,
    ValueTag.URI_SCHEME,
    ValueTag.CHARSET,
    ValueTag.NATURAL_LANGUAGE,
    ValueTag.MIME_MEDIA_TYPE,
)
MemberValue = Value | Mapping[str, object] | Sequence[object]


def _tag_for(name: str, syntax: Syntax, value: object) -> tuple[ValueTag, Value]:
    """The tag the syntax gives a Python value, and the value (dicts become Collections)."""
    tags = syntax.tags
    if isinstance(value, OutOfBand):
        return value.tag, value
    if isinstance(value, bool):
        wanted: tuple[ValueTag, ...] = (ValueTag.BOOLEAN,)
    elif isinstance(value, int):
        wanted = (ValueTag.INTEGER, ValueTag.ENUM)
    elif isinstance(value, str):
        wanted = _STRING_TAGS
    elif isinstance(value, TextWithLanguage):
        wanted = (ValueTag.TEXT,)
    elif isinstance(value, NameWithLanguage):
        wanted = (ValueTag.NAME,)
    elif isinstance(value, bytes):
        wanted = (ValueTag.OCTET_STRING,)
    elif isinstance(value, datetime):
        wanted = (ValueTag.DATE_TIME,)
    elif isinstance(value, Resolution):
        wanted = (ValueTag.RESOLUTION,)
    elif isinstance(value, Range):
        wanted = (ValueTag.RANGE_OF_INTEGER,)
    elif isinstance(value, Collection | Mapping):
        wanted = (ValueTag.BEG_COLLECTION,)
    else:
        raise TypeError(f"{name!r}: no IPP syntax for {value!r}")
    for tag in tags:
        if tag in wanted:
            if tag is ValueTag.TEXT and isinstance(value, TextWithLanguage):
                return ValueTag.TEXT_WITH_LANGUAGE, value
            if tag is ValueTag.NAME and isinstance(value, NameWithLanguage):
                return ValueTag.NAME_WITH_LANGUAGE, value
            if tag is ValueTag.BEG_COLLECTION and isinstance(value, Mapping):
                return tag, _collection(name, syntax, value)
            return tag, cast(Value, value)
    raise TypeError(f"{name!r} is {syntax.text}: {value!r} does not fit")


def _collection(name: str, syntax: Syntax, members: Mapping[str, object]) -> Collection:
    registry = syntax.members or {}
    built = []
    for mname, mvalue in members.items():
        msyntax = registry.get(mname)
        if msyntax is None:
            raise KeyError(f"{mname!r} is not a member of {name!r}")
        values = tuple(mvalue) if isinstance(mvalue, list | tuple) and msyntax.set_of else (mvalue,)
        built.append(_build_attribute(mname, msyntax, values))
    return Collection(built)


def _build_attribute(name: str, syntax: Syntax, values: Sequence[object]) -> Attribute:
    if not values:
        raise ValueError(f"{name!r} needs a value")
    if len(values) > 1 and not syntax.set_of:
        raise ValueError(f"{name!r} is {syntax.text}: one value only")
    return Attribute.mixed(name, (_tag_for(name, syntax, v) for v in values))


def attribute(name: str, *values: object, tag: ValueTag | None = None) -> Attribute:
    """An attribute with the tags the registry gives its syntax.

    Values are Python values (see `values`); a collection may be given as a dict of member
    name -> value (a list or tuple for a 1setOf member), checked against the member registry.
    With ``tag`` the registry is not consulted (for names it does not know). Raises KeyError
    for an unknown name without ``tag``, TypeError for a value that does not fit the syntax,
    ValueError for several values where the syntax is not 1setOf.
    """
    if tag is not None:
        if not values and tag.is_out_of_band:
            return Attribute(name, tag, (OutOfBand(tag),))
        return Attribute(name, tag, tuple(cast(Value, v) for v in values))
    syntax = REGISTRY.get(name)
    if syntax is None:
        raise KeyError(f"{name!r} is not in the attribute registry; give its tag")
    return _build_attribute(name, syntax, values)
