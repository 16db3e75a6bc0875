"""Places the generated hospitals live in: states, cities, zip prefixes, area codes, CCN codes.

The per-state weights follow the real spread of US hospitals (roughly the CMS Hospital General
Information counts, inflated toward the ~6,700 facilities the PRA index lists), so a national-scale
sandbox has the same lopsided state partitions a real scan meets: Texas and California with
hundreds of hospitals, Vermont and DC with a dozen.
"""

from __future__ import annotations

from dataclasses import dataclass

from glimmr_dagster.lib.states import STATE_CODES


@dataclass(frozen=True)
class City:
    name: str
    zip3: str
    lat: float
    lon: float


@dataclass(frozen=True)
class StateInfo:
    code: str
    name: str
    weight: int
    # First two digits of a CMS Certification Number (the SSA state code).
    ccn_prefix: str
    area_codes: tuple[str, ...]
    cities: tuple[City, ...]


# code | name | weight | CCN prefix | area codes | city:zip3:lat:lon;...
_STATE_TABLE = """
AK|Alaska|27|02|907|Anchorage:995:61.22:-149.90;Fairbanks:997:64.84:-147.72;Juneau:998:58.30:-134.42;Soldotna:996:60.49:-151.06;Bethel:995:60.79:-161.76
AL|Alabama|118|01|205,251,256,334|Birmingham:352:33.52:-86.80;Montgomery:361:32.37:-86.30;Mobile:366:30.69:-88.04;Huntsville:358:34.73:-86.59;Tuscaloosa:354:33.21:-87.57;Dothan:363:31.22:-85.39
AR|Arkansas|105|04|479,501,870|Little Rock:722:34.75:-92.29;Fayetteville:727:36.06:-94.16;Fort Smith:729:35.39:-94.40;Jonesboro:724:35.84:-90.70;Pine Bluff:716:34.23:-92.00;Hot Springs:719:34.50:-93.06
AZ|Arizona|140|03|480,520,602,623,928|Phoenix:850:33.45:-112.07;Tucson:857:32.22:-110.97;Mesa:852:33.42:-111.83;Flagstaff:860:35.20:-111.65;Yuma:853:32.69:-114.63;Scottsdale:852:33.49:-111.93;Prescott:863:34.54:-112.47
CA|California|430|05|209,213,310,408,415,510,559,619,626,650,661,707,714,760,805,818,858,909,916,925,949|Los Angeles:900:34.05:-118.24;San Diego:921:32.72:-117.16;San Jose:951:37.34:-121.89;San Francisco:941:37.77:-122.42;Fresno:937:36.74:-119.79;Sacramento:958:38.58:-121.49;Oakland:946:37.80:-122.27;Bakersfield:933:35.37:-119.02;Riverside:925:33.95:-117.40;Santa Rosa:954:38.44:-122.71;Redding:960:40.59:-122.39;Salinas:939:36.68:-121.66;Fullerton:928:33.87:-117.92;Santa Barbara:931:34.42:-119.70
CO|Colorado|110|06|303,719,720,970|Denver:802:39.74:-104.99;Colorado Springs:809:38.83:-104.82;Aurora:800:39.73:-104.83;Fort Collins:805:40.59:-105.08;Grand Junction:815:39.06:-108.55;Pueblo:810:38.25:-104.61
CT|Connecticut|45|07|203,475,860|Hartford:061:41.76:-72.69;New Haven:065:41.31:-72.92;Bridgeport:066:41.19:-73.20;Stamford:069:41.05:-73.54;Waterbury:067:41.56:-73.05;Norwich:063:41.52:-72.08
DC|District of Columbia|14|09|202|Washington:200:38.91:-77.04
DE|Delaware|14|08|302|Wilmington:198:39.74:-75.55;Dover:199:39.16:-75.52;Newark:197:39.68:-75.75;Lewes:199:38.77:-75.14
FL|Florida|300|10|239,305,321,352,386,407,561,727,772,813,850,863,904,941,954|Miami:331:25.76:-80.19;Tampa:336:27.95:-82.46;Orlando:328:28.54:-81.38;Jacksonville:322:30.33:-81.66;Tallahassee:323:30.44:-84.28;Gainesville:326:29.65:-82.32;Fort Lauderdale:333:26.12:-80.14;Pensacola:325:30.42:-87.22;Sarasota:342:27.34:-82.53;Fort Myers:339:26.64:-81.87;West Palm Beach:334:26.72:-80.05;Ocala:344:29.19:-82.14
GA|Georgia|185|11|229,404,470,478,678,706,770,912|Atlanta:303:33.75:-84.39;Savannah:314:32.08:-81.09;Augusta:309:33.47:-81.97;Macon:312:32.84:-83.63;Columbus:319:32.46:-84.99;Albany:317:31.58:-84.16;Athens:306:33.96:-83.38
HI|Hawaii|28|12|808|Honolulu:968:21.31:-157.86;Hilo:967:19.71:-155.09;Kahului:967:20.89:-156.47;Lihue:967:21.98:-159.37
IA|Iowa|125|16|319,515,563,641,712|Des Moines:503:41.59:-93.62;Cedar Rapids:524:41.98:-91.67;Iowa City:522:41.66:-91.53;Davenport:528:41.52:-90.58;Sioux City:511:42.50:-96.40;Waterloo:507:42.49:-92.34;Mason City:504:43.15:-93.20
ID|Idaho|50|13|208|Boise:837:43.62:-116.20;Idaho Falls:834:43.49:-112.03;Pocatello:832:42.87:-112.45;Coeur d'Alene:838:47.68:-116.78;Twin Falls:833:42.56:-114.46
IL|Illinois|215|14|217,224,309,312,618,630,708,773,815,847|Chicago:606:41.88:-87.63;Springfield:627:39.80:-89.64;Peoria:616:40.69:-89.59;Rockford:611:42.27:-89.09;Champaign:618:40.12:-88.24;Evanston:602:42.05:-87.69;Carbondale:629:37.73:-89.22;Joliet:604:41.53:-88.08
IN|Indiana|175|15|219,260,317,574,765,812|Indianapolis:462:39.77:-86.16;Fort Wayne:468:41.08:-85.14;Evansville:477:37.97:-87.57;South Bend:466:41.68:-86.25;Lafayette:479:40.42:-86.88;Muncie:473:40.19:-85.39;Terre Haute:478:39.47:-87.41
KS|Kansas|150|17|316,620,785,913|Wichita:672:37.69:-97.34;Topeka:666:39.05:-95.68;Kansas City:661:39.11:-94.63;Salina:674:38.84:-97.61;Hays:676:38.88:-99.33;Garden City:678:37.97:-100.87
KY|Kentucky|130|18|270,502,606,859|Louisville:402:38.25:-85.76;Lexington:405:38.04:-84.50;Bowling Green:421:36.99:-86.44;Owensboro:423:37.77:-87.11;Pikeville:415:37.48:-82.52;Paducah:420:37.08:-88.60
LA|Louisiana|210|19|225,318,337,504,985|New Orleans:701:29.95:-90.07;Baton Rouge:708:30.45:-91.19;Shreveport:711:32.53:-93.75;Lafayette:705:30.22:-92.02;Lake Charles:706:30.23:-93.22;Monroe:712:32.51:-92.12;Houma:703:29.60:-90.72
MA|Massachusetts|105|22|413,508,617,781,978|Boston:021:42.36:-71.06;Worcester:016:42.26:-71.80;Springfield:011:42.10:-72.59;Lowell:018:42.63:-71.32;Cambridge:021:42.37:-71.11;Pittsfield:012:42.45:-73.25;Hyannis:026:41.65:-70.29
MD|Maryland|65|21|240,301,410,443|Baltimore:212:39.29:-76.61;Bethesda:208:38.98:-77.10;Annapolis:214:38.98:-76.49;Frederick:217:39.41:-77.41;Salisbury:218:38.36:-75.60;Cumberland:215:39.65:-78.76
ME|Maine|40|20|207|Portland:041:43.66:-70.26;Bangor:044:44.80:-68.77;Lewiston:042:44.10:-70.21;Augusta:043:44.31:-69.78;Presque Isle:047:46.68:-68.02
MI|Michigan|175|23|231,248,269,313,517,586,616,734,810,906,989|Detroit:482:42.33:-83.05;Grand Rapids:495:42.96:-85.67;Ann Arbor:481:42.28:-83.74;Lansing:489:42.73:-84.56;Flint:485:43.01:-83.69;Kalamazoo:490:42.29:-85.59;Marquette:498:46.54:-87.40;Traverse City:496:44.76:-85.62
MN|Minnesota|140|24|218,320,507,612,651,763,952|Minneapolis:554:44.98:-93.27;Saint Paul:551:44.95:-93.09;Rochester:559:44.02:-92.47;Duluth:558:46.79:-92.10;Saint Cloud:563:45.56:-94.16;Mankato:560:44.16:-94.00;Bemidji:566:47.47:-94.88
MO|Missouri|150|26|314,417,573,636,660,816|Saint Louis:631:38.63:-90.20;Kansas City:641:39.10:-94.58;Springfield:658:37.21:-93.29;Columbia:652:38.95:-92.33;Joplin:648:37.08:-94.51;Cape Girardeau:637:37.31:-89.52
MS|Mississippi|110|25|228,601,662,769|Jackson:392:32.30:-90.18;Gulfport:395:30.37:-89.09;Hattiesburg:394:31.33:-89.29;Tupelo:388:34.26:-88.70;Meridian:393:32.36:-88.70;Greenville:387:33.41:-91.06
MT|Montana|65|27|406|Billings:591:45.78:-108.50;Missoula:598:46.87:-113.99;Great Falls:594:47.50:-111.30;Bozeman:597:45.68:-111.04;Helena:596:46.59:-112.04;Kalispell:599:48.20:-114.31
NC|North Carolina|135|34|252,336,704,828,910,919,980|Charlotte:282:35.23:-80.84;Raleigh:276:35.78:-78.64;Durham:277:35.99:-78.90;Greensboro:274:36.07:-79.79;Asheville:288:35.60:-82.55;Wilmington:284:34.23:-77.94;Greenville:278:35.61:-77.37;Winston-Salem:271:36.10:-80.24
ND|North Dakota|48|35|701|Fargo:581:46.88:-96.79;Bismarck:585:46.81:-100.78;Grand Forks:582:47.93:-97.03;Minot:587:48.23:-101.30;Williston:588:48.15:-103.62
NE|Nebraska|100|28|308,402,531|Omaha:681:41.26:-95.93;Lincoln:685:40.81:-96.70;Kearney:688:40.70:-99.08;Grand Island:688:40.93:-98.34;North Platte:691:41.12:-100.77;Scottsbluff:693:41.87:-103.67
NH|New Hampshire|32|30|603|Manchester:031:42.99:-71.46;Concord:033:43.21:-71.54;Nashua:030:42.77:-71.47;Lebanon:037:43.64:-72.25;Portsmouth:038:43.07:-70.76
NJ|New Jersey|100|31|201,609,732,856,908,973|Newark:071:40.74:-74.17;Trenton:086:40.22:-74.76;Camden:081:39.93:-75.12;Hackensack:076:40.89:-74.04;New Brunswick:089:40.49:-74.45;Morristown:079:40.80:-74.48;Atlantic City:084:39.36:-74.42
NM|New Mexico|60|32|505,575|Albuquerque:871:35.08:-106.65;Santa Fe:875:35.69:-105.94;Las Cruces:880:32.32:-106.76;Roswell:882:33.39:-104.52;Farmington:874:36.73:-108.22;Gallup:873:35.53:-108.74
NV|Nevada|70|29|702,725,775|Las Vegas:891:36.17:-115.14;Reno:895:39.53:-119.81;Henderson:890:36.04:-114.98;Carson City:897:39.16:-119.77;Elko:898:40.83:-115.76
NY|New York|230|33|212,315,347,516,518,585,607,631,716,718,845,914|New York:100:40.71:-74.01;Brooklyn:112:40.68:-73.94;Buffalo:142:42.89:-78.88;Rochester:146:43.16:-77.61;Syracuse:132:43.05:-76.15;Albany:122:42.65:-73.76;Bronx:104:40.84:-73.86;Mineola:115:40.75:-73.64;Valhalla:105:41.07:-73.77;Binghamton:139:42.10:-75.92;Utica:135:43.10:-75.23
OH|Ohio|260|36|216,234,330,419,440,513,614,740,937|Columbus:432:39.96:-83.00;Cleveland:441:41.50:-81.69;Cincinnati:452:39.10:-84.51;Toledo:436:41.65:-83.54;Akron:443:41.08:-81.52;Dayton:454:39.76:-84.19;Youngstown:445:41.10:-80.65;Zanesville:437:39.94:-82.01;Canton:447:40.80:-81.38
OK|Oklahoma|160|37|405,539,580,918|Oklahoma City:731:35.47:-97.52;Tulsa:741:36.15:-95.99;Norman:730:35.22:-97.44;Lawton:735:34.61:-98.39;Enid:737:36.40:-97.88;Ardmore:734:34.17:-97.14;Muskogee:744:35.75:-95.37
OR|Oregon|65|38|458,503,541,971|Portland:972:45.52:-122.68;Eugene:974:44.05:-123.09;Salem:973:44.94:-123.04;Medford:975:42.33:-122.87;Bend:977:44.06:-121.32;Pendleton:978:45.67:-118.79
PA|Pennsylvania|250|39|215,267,412,484,570,610,717,724,814|Philadelphia:191:39.95:-75.17;Pittsburgh:152:40.44:-80.00;Harrisburg:171:40.27:-76.88;Allentown:181:40.60:-75.47;Erie:165:42.13:-80.09;Scranton:185:41.41:-75.66;Hershey:170:40.29:-76.65;Danville:178:40.96:-76.61;Lancaster:176:40.04:-76.31
RI|Rhode Island|15|41|401|Providence:029:41.82:-71.41;Warwick:028:41.70:-71.42;Pawtucket:028:41.88:-71.38;Westerly:028:41.38:-71.83
SC|South Carolina|90|42|803,843,864|Columbia:292:34.00:-81.03;Charleston:294:32.78:-79.93;Greenville:296:34.85:-82.40;Spartanburg:293:34.95:-81.93;Florence:295:34.20:-79.76;Myrtle Beach:295:33.69:-78.89
SD|South Dakota|65|43|605|Sioux Falls:571:43.54:-96.73;Rapid City:577:44.08:-103.23;Aberdeen:574:45.46:-98.49;Watertown:572:44.90:-97.12;Pierre:575:44.37:-100.35
TN|Tennessee|155|44|423,615,629,731,865,901,931|Nashville:372:36.16:-86.78;Memphis:381:35.15:-90.05;Knoxville:379:35.96:-83.92;Chattanooga:374:35.05:-85.31;Johnson City:376:36.31:-82.35;Jackson:383:35.61:-88.81;Clarksville:370:36.53:-87.36
TX|Texas|600|45|210,214,254,281,325,361,409,430,432,512,713,806,817,830,903,915,936,940,956,972,979|Houston:770:29.76:-95.37;Dallas:752:32.78:-96.80;San Antonio:782:29.42:-98.49;Austin:787:30.27:-97.74;Fort Worth:761:32.76:-97.33;El Paso:799:31.76:-106.49;Lubbock:794:33.58:-101.86;Amarillo:791:35.22:-101.83;Corpus Christi:784:27.80:-97.40;McAllen:785:26.20:-98.23;Tyler:757:32.35:-95.30;Waco:767:31.55:-97.15;Abilene:796:32.45:-99.73;Beaumont:777:30.08:-94.13;Midland:797:32.00:-102.08;Temple:765:31.10:-97.34
UT|Utah|60|46|385,435,801|Salt Lake City:841:40.76:-111.89;Provo:846:40.23:-111.66;Ogden:844:41.22:-111.97;Saint George:847:37.10:-113.58;Logan:843:41.74:-111.83
VA|Virginia|110|49|276,434,540,571,703,757,804|Richmond:232:37.54:-77.44;Norfolk:235:36.85:-76.29;Roanoke:240:37.27:-79.94;Charlottesville:229:38.03:-78.48;Fairfax:220:38.85:-77.31;Lynchburg:245:37.41:-79.14;Winchester:226:39.19:-78.16
VT|Vermont|16|47|802|Burlington:054:44.48:-73.21;Rutland:057:43.61:-72.97;Bennington:052:42.88:-73.20;Saint Johnsbury:058:44.42:-72.02
WA|Washington|105|50|206,253,360,425,509|Seattle:981:47.61:-122.33;Spokane:992:47.66:-117.43;Tacoma:984:47.25:-122.44;Everett:982:47.98:-122.20;Yakima:989:46.60:-120.51;Vancouver:986:45.64:-122.66;Wenatchee:988:47.42:-120.31
WI|Wisconsin|160|52|262,414,608,715,920|Milwaukee:532:43.04:-87.91;Madison:537:43.07:-89.40;Green Bay:543:44.51:-88.01;Eau Claire:547:44.81:-91.50;La Crosse:546:43.80:-91.24;Wausau:544:44.96:-89.63;Marshfield:544:44.67:-90.17
WV|West Virginia|65|51|304,681|Charleston:253:38.35:-81.63;Morgantown:265:39.63:-79.96;Huntington:257:38.42:-82.45;Wheeling:260:40.06:-80.72;Beckley:258:37.78:-81.19
WY|Wyoming|32|53|307|Cheyenne:820:41.14:-104.82;Casper:826:42.87:-106.31;Laramie:820:41.31:-105.59;Sheridan:828:44.80:-106.96;Rock Springs:829:41.59:-109.20
"""


def _parse_states() -> dict[str, StateInfo]:
    states: dict[str, StateInfo] = {}
    for line in _STATE_TABLE.strip().splitlines():
        code, name, weight, ccn_prefix, area_codes, cities = line.split("|")
        city_list = []
        for entry in cities.split(";"):
            city_name, zip3, lat, lon = entry.split(":")
            city_list.append(City(city_name, zip3, float(lat), float(lon)))
        states[code] = StateInfo(
            code=code,
            name=name,
            weight=int(weight),
            ccn_prefix=ccn_prefix,
            area_codes=tuple(area_codes.split(",")),
            cities=tuple(city_list),
        )
    return states


STATES: dict[str, StateInfo] = _parse_states()

# The table above must cover exactly the jurisdictions the index lists.
assert tuple(sorted(STATES)) == tuple(sorted(STATE_CODES)), "geography table out of sync with STATE_CODES"


def allocate_hospitals(total: int) -> dict[str, int]:
    """Split `total` hospitals across the 51 codes in proportion to the real spread.

    Every code gets at least one hospital once `total` reaches 51; below that, the largest states
    come first. The rest follow the weights, rounded with the largest-remainder method so the
    counts always add up to `total`.
    """
    if total < 0:
        raise ValueError("hospital count must be >= 0")
    codes = sorted(STATES, key=lambda code: (-STATES[code].weight, code))
    if total < len(codes):
        return {code: (1 if index < total else 0) for index, code in enumerate(codes)}
    counts = {code: 1 for code in codes}
    remaining = total - len(codes)
    weight_sum = sum(STATES[code].weight for code in codes)
    shares = {code: remaining * STATES[code].weight / weight_sum for code in codes}
    for code in codes:
        counts[code] += int(shares[code])
    leftover = total - sum(counts.values())
    by_remainder = sorted(codes, key=lambda code: (-(shares[code] - int(shares[code])), code))
    for code in by_remainder[:leftover]:
        counts[code] += 1
    return counts


STREET_NAMES = (
    "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lincoln", "Jefferson", "Park",
    "Lake", "Hill", "Medical Center", "Hospital", "University", "Church", "Highland", "River",
    "Sunset", "Broad", "Market", "Spring", "Valley", "Mercy", "College", "Madison", "Franklin",
    "Riverside", "Grand", "Wilson", "Memorial", "Health Park", "Providence", "Summit", "Forest",
)
STREET_SUFFIXES = ("Street", "St", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Drive", "Dr",
                   "Parkway", "Pkwy", "Way", "Lane", "Circle", "Court")
SAINTS = ("St. Mary's", "St. Joseph", "St. Luke's", "St. Francis", "St. Vincent", "St. John's",
          "St. Elizabeth", "St. Anthony", "Sacred Heart", "Good Samaritan", "Holy Cross", "Mercy",
          "Providence", "Our Lady of Lourdes", "St. Catherine", "St. Peter's", "St. Bernard")
FAMILY_NAMES = ("Baptist", "Methodist", "Presbyterian", "Adventist", "Lutheran", "Jewish", "Memorial",
                "Kaiser", "Sutter", "Dignity", "Ascension", "Banner", "Intermountain", "Sanford",
                "Avera", "Geisinger", "Ochsner", "Baylor", "Atrium", "Novant", "Prisma", "Essentia",
                "Aurora", "Trinity", "Bon Secours", "CHRISTUS", "Covenant", "Hendrick", "Parkview",
                "Beaumont", "Spectrum", "Corewell", "OhioHealth", "Riverside", "Sentara", "Carilion",
                "Piedmont", "Wellstar", "Baycare", "AdventHealth", "Orlando", "Lee", "Halifax",
                "Munson", "Bronson", "Sparrow", "Henry Ford", "Allina", "Fairview", "Gundersen")
