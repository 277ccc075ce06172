# ruff: noqa: E501
"""Labelled near-duplicate pairs, built from the texts below and the seed documents in seeds/.

``build_pairs()`` is what the tests and bench/dedup.py read; nothing is stored, so the seed
documents live once, in seeds/. Deterministic (fixed random seed). To look at the pairs:
.venv/bin/python tests/eval/make_dedup_pairs.py writes them to tests/eval/dedup_pairs.jsonl
(not committed).

The texts are synthetic French news written for this evaluation: the events are those of the Paris AI
Action Summit (February 2025) but the wording, figures' phrasing and quotes are invented for
testing and must not be cited as reporting. Each EVENT has two independent versions: "a" is a
wire-style dispatch, "b" an outlet's own report of the same event, sharing some quotes and
facts with "a" (the hard negatives). STATEMENTS share one party's press-release template but
deal with different topics. BACKGROUND paragraphs are what outlets add to a dispatch.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import TypedDict


class Event(TypedDict):
    """One event, two independent versions: "a" a wire dispatch, "b" an outlet's own report."""

    id: str
    headlines_a: list[str]
    a: list[str]
    headlines_b: list[str]
    b: list[str]


class Statement(TypedDict):
    id: str
    title: str
    paras: list[str]


class QuotingArticle(TypedDict):
    id: str
    quotes: str  # the id of the statement it quotes
    title: str
    paras: list[str]


class Pair(TypedDict):
    """A labelled pair: two extracted texts, duplicates of each other or not, and how made."""

    id: str
    a: str
    b: str
    duplicate: bool
    kind: str


EVENTS: list[Event] = [
    {
        "id": "E01",
        "headlines_a": [
            "IA : Emmanuel Macron annonce 109 milliards d'euros d'investissements en France",
            "Sommet sur l'IA : Macron promet 109 milliards d'euros pour les centres de données",
        ],
        "a": [
            "Emmanuel Macron a annoncé dimanche 9 février que la France allait bénéficier de 109 milliards d'euros d'investissements privés dans l'intelligence artificielle au cours des prochaines années, à la veille de l'ouverture à Paris d'un sommet international consacré à cette technologie.",
            "« C'est l'équivalent pour la France de ce que les Etats-Unis ont annoncé avec Stargate », a déclaré le chef de l'Etat lors d'un entretien diffusé par plusieurs chaînes de télévision, en référence au projet de 500 milliards de dollars dévoilé fin janvier à Washington.",
            "Une large part de ces montants doit financer la construction de centres de données, ces infrastructures très gourmandes en électricité indispensables à l'entraînement des modèles d'IA. Les Emirats arabes unis ont promis entre 30 et 50 milliards d'euros, tandis que le fonds canadien Brookfield prévoit d'investir 20 milliards d'euros d'ici 2030.",
            "Le président a mis en avant l'atout que représente, selon lui, l'électricité nucléaire française, décarbonée et abondante. « Nous avons une énergie propre, nous avons des talents, nous avons des sites disponibles », a-t-il insisté, évoquant 35 emplacements déjà identifiés par l'Etat pour accueillir ces équipements.",
            "L'opposition de gauche a dénoncé des annonces en trompe-l'oeil, reposant pour l'essentiel sur des capitaux étrangers. Le sommet, coprésidé par la France et l'Inde, doit réunir lundi et mardi au Grand Palais une centaine de délégations.",
        ],
        "headlines_b": [
            "Les 109 milliards de Macron pour l'IA, un chiffre qui laisse les économistes sceptiques",
        ],
        "b": [
            "Le chiffre a été martelé toute la soirée. Invité d'un entretien télévisé dimanche soir, le président de la République a promis 109 milliards d'euros d'investissements dans l'intelligence artificielle, une somme qu'il compare volontiers au programme américain. « C'est l'équivalent pour la France de ce que les Etats-Unis ont annoncé avec Stargate », a-t-il affirmé.",
            "Derrière ce total se cachent pourtant des engagements de nature très différente. Plusieurs économistes interrogés par notre rédaction rappellent que ces promesses s'étalent sur plusieurs années et qu'aucun calendrier contraignant n'a été publié. « On additionne des intentions, pas des chèques », résume une chercheuse spécialiste de politique industrielle.",
            "L'essentiel des fonds provient d'acteurs étrangers, au premier rang desquels les Emirats arabes unis, qui financeraient un gigantesque campus de centres de données. Le gouvernement assure de son côté que 35 sites ont été identifiés sur le territoire et que les procédures de raccordement seront accélérées.",
            "Pour l'exécutif, l'argument décisif reste l'énergie. « Nous avons une énergie propre, nous avons des talents, nous avons des sites disponibles », a répété le chef de l'Etat. Reste à savoir combien d'emplois seront réellement créés sur le sol français, une question que l'Elysée renvoie aux annonces attendues lors du sommet.",
        ],
    },
    {
        "id": "E02",
        "headlines_a": [
            "Sommet pour l'action sur l'IA : ouverture au Grand Palais en présence d'une centaine de pays",
            "Paris accueille le monde de l'IA au Grand Palais",
        ],
        "a": [
            "Le sommet pour l'action sur l'intelligence artificielle s'est ouvert lundi 10 février au Grand Palais, à Paris, en présence de représentants d'une centaine de pays, de dirigeants d'entreprises et de chercheurs, dans un contexte de forte concurrence entre les Etats-Unis et la Chine.",
            "Coprésidé par Emmanuel Macron et le Premier ministre indien Narendra Modi, le rendez-vous doit déboucher mardi sur une déclaration commune en faveur d'une IA « ouverte, inclusive et éthique ». La première journée est consacrée à des tables rondes réunissant scientifiques, responsables de la société civile et industriels.",
            "Parmi les invités figurent le vice-président américain JD Vance, le vice-Premier ministre chinois Ding Xuexiang, la présidente de la Commission européenne Ursula von der Leyen ainsi que les patrons de plusieurs géants du secteur, dont Sam Altman pour OpenAI et Sundar Pichai pour Google.",
            "« Nous voulons que ce sommet soit celui de l'action et non des grandes peurs », a expliqué l'envoyée spéciale du président pour l'IA, Anne Bouverot, en marge de l'ouverture. Les précédentes éditions, à Bletchley Park en 2023 puis à Séoul en 2024, avaient surtout porté sur les risques liés aux modèles les plus puissants.",
            "Un important dispositif de sécurité a été déployé autour du Grand Palais, où la circulation est restreinte jusqu'à mardi soir.",
        ],
        "headlines_b": [
            "Au Grand Palais, le sommet de l'IA s'ouvre entre promesses et inquiétudes",
        ],
        "b": [
            "Sous la verrière du Grand Palais, l'ambiance tenait lundi matin davantage du salon professionnel que de la conférence diplomatique. Badges autour du cou, ingénieurs, diplomates et investisseurs se pressaient dans les allées pour la première journée du sommet pour l'action sur l'intelligence artificielle.",
            "La France a voulu un format différent de celui des rencontres britannique et sud-coréenne. « Nous voulons que ce sommet soit celui de l'action et non des grandes peurs », a résumé Anne Bouverot, envoyée spéciale de l'Elysée, qui a piloté des mois de négociations avec les délégations étrangères.",
            "Dans les couloirs, plusieurs participants s'interrogeaient pourtant sur la portée réelle de l'exercice. Les Etats-Unis, représentés par le vice-président JD Vance, ont fait savoir qu'ils ne s'engageraient sur aucun texte contraignant, et la présence chinoise est scrutée de près par les Européens.",
            "Côté société civile, une vingtaine d'associations ont organisé une conférence de presse à quelques rues de là pour dénoncer un sommet « taillé pour les industriels ». Les débats de mardi, en présence des chefs d'Etat et de gouvernement, diront si la déclaration finale dépasse le stade des bonnes intentions.",
        ],
    },
    {
        "id": "E03",
        "headlines_a": [
            "JD Vance met en garde l'Europe contre une régulation « excessive » de l'IA",
            "A Paris, JD Vance fustige la régulation européenne de l'intelligence artificielle",
        ],
        "a": [
            "Le vice-président américain JD Vance a mis en garde mardi 11 février les Européens contre une régulation « excessive » de l'intelligence artificielle, qui risquerait selon lui de « tuer une industrie en pleine transformation », lors de son discours au sommet de Paris.",
            "« L'avenir de l'IA ne se gagnera pas en se tordant les mains au sujet de la sécurité », a lancé le numéro deux de l'administration Trump devant les chefs d'Etat et de gouvernement réunis au Grand Palais. Il a également critiqué le règlement européen sur les services numériques et le RGPD, accusés de peser sur les entreprises américaines.",
            "JD Vance a affirmé que Washington veillerait à ce que les systèmes d'IA les plus avancés restent développés aux Etats-Unis, et a mis en garde contre toute coopération avec des « régimes autoritaires », une allusion transparente à la Chine.",
            "Le vice-président a quitté la salle peu après son intervention, sans assister au discours de la présidente de la Commission européenne. Ses propos ont été accueillis fraîchement par plusieurs délégations européennes, qui défendent l'AI Act entré progressivement en vigueur depuis le 2 février.",
        ],
        "headlines_b": [
            "Le discours offensif de JD Vance jette un froid au Grand Palais",
        ],
        "b": [
            "Il n'a parlé qu'un quart d'heure, mais son intervention a éclipsé une bonne partie de la journée. JD Vance, pour son premier déplacement à l'étranger en tant que vice-président, a choisi le sommet de Paris pour délivrer un réquisitoire contre la réglementation européenne du numérique.",
            "« L'avenir de l'IA ne se gagnera pas en se tordant les mains au sujet de la sécurité », a-t-il affirmé, avant de promettre que l'administration Trump ne laisserait pas des règles étrangères entraver ses entreprises. Dans la salle, plusieurs ministres européens sont restés de marbre.",
            "« C'était un discours pour le public américain », glisse un diplomate français, qui relativise la portée de l'épisode. D'autres participants y voient au contraire la confirmation d'un fossé croissant entre les deux rives de l'Atlantique sur la manière d'encadrer la technologie.",
            "Emmanuel Macron, qui avait plaidé la veille pour une « simplification » des règles sans renoncer à la régulation, a répondu à distance en estimant que l'Europe devait « aller plus vite » tout en conservant un cadre de confiance. La Commission a, elle, annoncé qu'elle réexaminerait certaines obligations jugées trop lourdes pour les jeunes pousses.",
        ],
    },
    {
        "id": "E04",
        "headlines_a": [
            "Sommet sur l'IA : les Etats-Unis et le Royaume-Uni ne signent pas la déclaration finale",
            "IA : Washington et Londres refusent de signer la déclaration de Paris",
        ],
        "a": [
            "Les Etats-Unis et le Royaume-Uni n'ont pas signé la déclaration finale du sommet de Paris sur l'intelligence artificielle, adoptée mardi 11 février par une soixantaine de pays, dont la France, la Chine et l'Inde.",
            "Le texte appelle à une IA « ouverte », « inclusive » et « éthique », à une meilleure coordination de la gouvernance internationale et à un développement de la technologie « durable pour les personnes et la planète ». Il ne contient aucun engagement contraignant.",
            "Londres a justifié sa décision en expliquant que la déclaration ne fournissait pas « suffisamment de clarté pratique » sur la gouvernance mondiale et ne répondait pas assez aux questions de sécurité nationale. Washington n'a pas officiellement commenté son refus.",
            "« Ce texte n'est pas parfait, mais il montre qu'une large majorité de pays veut avancer ensemble », a commenté l'Elysée. Plusieurs organisations de défense des droits humains ont pour leur part regretté l'absence de mesures concrètes sur la surveillance et l'impact environnemental de l'IA.",
        ],
        "headlines_b": [
            "Déclaration de Paris : le camouflet américain et britannique",
        ],
        "b": [
            "La photo de famille était prête, il manquait deux signatures de poids. Mardi soir, la France a présenté la déclaration finale du sommet pour l'action sur l'IA comme un succès diplomatique, soutenu par une soixantaine d'Etats. Mais ni Washington ni Londres n'ont apposé leur nom au bas du document.",
            "Côté britannique, le refus a surpris jusque dans les rangs des diplomates français, qui comptaient sur le soutien d'un pays à l'origine du premier sommet sur la sécurité de l'IA, à Bletchley Park. Le gouvernement de Keir Starmer estime que le texte manque de « clarté pratique » sur la gouvernance mondiale.",
            "Pour les Etats-Unis, le choix semblait écrit d'avance après le discours de JD Vance, très hostile à toute forme de régulation multilatérale. « Ce texte n'est pas parfait, mais il montre qu'une large majorité de pays veut avancer ensemble », a plaidé l'Elysée, qui met en avant la signature de la Chine et de l'Inde.",
            "Les ONG, elles, jugent la déclaration trop vague. Aucune mesure n'y figure sur la consommation d'eau et d'électricité des centres de données, ni sur l'usage de l'IA à des fins de surveillance de masse.",
        ],
    },
    {
        "id": "E05",
        "headlines_a": [
            "Ursula von der Leyen annonce 200 milliards d'euros pour l'IA en Europe",
            "IA : Bruxelles veut mobiliser 200 milliards d'euros avec InvestAI",
        ],
        "a": [
            "La présidente de la Commission européenne Ursula von der Leyen a annoncé mardi 11 février à Paris une initiative baptisée InvestAI, destinée à mobiliser 200 milliards d'euros d'investissements dans l'intelligence artificielle en Europe.",
            "Le dispositif prévoit notamment un fonds de 20 milliards d'euros consacré à la construction de quatre à cinq « gigafactories » de l'IA, de très grands centres de calcul capables d'entraîner les modèles de nouvelle génération. « L'IA peut être une force pour le bien et pour la croissance », a déclaré la dirigeante allemande.",
            "Cette enveloppe s'ajoute aux 150 milliards d'euros promis la veille par une soixantaine d'entreprises européennes réunies au sein de l'initiative EU AI Champions, parmi lesquelles Airbus, Mistral AI, Siemens et Spotify.",
            "« La course à l'IA est loin d'être terminée », a insisté Ursula von der Leyen, en réponse aux critiques sur le retard supposé de l'Europe face aux Etats-Unis et à la Chine. Les modalités de financement précises seront présentées dans les prochains mois.",
        ],
        "headlines_b": [
            "InvestAI : derrière les 200 milliards de Bruxelles, beaucoup d'argent privé",
        ],
        "b": [
            "Après les 109 milliards français, les 200 milliards européens. Ursula von der Leyen a profité de la tribune du Grand Palais pour dévoiler InvestAI, un plan présenté comme la réponse du Vieux Continent à la course mondiale à l'intelligence artificielle.",
            "A y regarder de près, la part d'argent public reste toutefois limitée : l'Union européenne engagerait une cinquantaine de milliards, le reste devant être apporté par des investisseurs privés. « La course à l'IA est loin d'être terminée », a assuré la présidente de la Commission, qui veut faire de l'Europe un « continent de l'IA ».",
            "Les fameuses gigafactories, ces centres de calcul géants, font déjà l'objet d'une compétition entre Etats membres. La France, l'Allemagne et l'Italie ont fait savoir qu'elles se porteraient candidates, tandis que les pays nordiques mettent en avant leur électricité bon marché et leur climat froid.",
            "Plusieurs eurodéputés ont salué l'ambition tout en demandant que les fonds ne bénéficient pas en priorité aux filiales européennes des géants américains du numérique.",
        ],
    },
    {
        "id": "E06",
        "headlines_a": [
            "Les Emirats vont financer un campus géant de centres de données en France",
            "IA : accord franco-émirien pour un campus de data centers d'un gigawatt",
        ],
        "a": [
            "La France et les Emirats arabes unis ont signé un accord prévoyant la construction en France d'un campus de centres de données d'une puissance pouvant atteindre un gigawatt, pour un investissement de 30 à 50 milliards d'euros, a annoncé l'Elysée jeudi 6 février.",
            "Le projet, qui doit être réalisé par un consortium de fonds franco-émiriens dont MGX, sera consacré à l'intelligence artificielle. Le site n'a pas encore été choisi. L'accord a été conclu lors d'un entretien entre Emmanuel Macron et le président émirien Mohammed ben Zayed à l'Elysée.",
            "Les deux pays s'engagent également à coopérer sur la recherche, la formation et les « ambassades virtuelles de données », permettant d'héberger des informations sensibles selon des règles de souveraineté définies conjointement.",
            "Ce campus sera « le plus grand d'Europe », selon la présidence française, qui insiste sur la disponibilité d'une électricité décarbonée en France. Des associations environnementales s'inquiètent déjà de la consommation d'eau et d'énergie d'un tel équipement.",
        ],
        "headlines_b": [
            "Le campus émirien de data centers, un projet encore sans adresse",
        ],
        "b": [
            "Un gigawatt, c'est la puissance d'un réacteur nucléaire. C'est aussi celle du campus de centres de données que les Emirats arabes unis promettent de financer en France, pour un montant compris entre 30 et 50 milliards d'euros, selon l'Elysée.",
            "L'annonce, faite à l'issue d'une rencontre entre Emmanuel Macron et Mohammed ben Zayed, reste pour l'heure très floue sur le calendrier. Aucun site n'a été désigné et plusieurs collectivités, en Normandie comme dans le Grand Est, se disent déjà intéressées. Ce campus sera « le plus grand d'Europe », vante l'entourage du chef de l'Etat.",
            "Les élus locaux interrogés restent prudents. « Un projet de cette taille, c'est des années de procédures, de raccordement au réseau et de concertation », rappelle un maire dont la commune accueille déjà un centre de données.",
            "Reste la question de l'eau, indispensable au refroidissement des serveurs. Les promoteurs assurent que des technologies en circuit fermé limiteront les prélèvements, sans convaincre les associations environnementales.",
        ],
    },
    {
        "id": "E07",
        "headlines_a": [
            "Lancement de Current AI, une fondation pour une IA d'intérêt général",
            "Sommet IA : une fondation dotée de 400 millions de dollars pour l'IA ouverte",
        ],
        "a": [
            "Une nouvelle fondation baptisée Current AI, dotée d'un budget initial de 400 millions de dollars, a été lancée lundi 10 février à Paris pour soutenir le développement d'une intelligence artificielle ouverte et d'intérêt général, a annoncé la présidence française.",
            "Soutenue par une dizaine de pays, dont la France, l'Allemagne et le Kenya, ainsi que par des entreprises et des philanthropes, la structure doit financer des bases de données accessibles à tous, des outils en source ouverte et des travaux d'évaluation des systèmes d'IA.",
            "L'objectif affiché est de lever 2,5 milliards de dollars sur cinq ans. « Nous voulons que l'IA profite au plus grand nombre et pas seulement à quelques entreprises », a déclaré Martin Tisné, désigné pour diriger l'initiative.",
            "La fondation sera notamment chargée de constituer des jeux de données de qualité dans des domaines comme la santé ou les langues peu représentées, aujourd'hui largement délaissés par les grands laboratoires privés.",
        ],
        "headlines_b": [
            "Current AI, la fondation qui veut rendre l'IA plus ouverte, suscite autant d'espoirs que de doutes",
        ],
        "b": [
            "Elle était l'une des annonces phares voulues par Paris. La fondation Current AI, présentée lundi au Grand Palais, doit incarner la promesse d'une intelligence artificielle « d'intérêt général », alternative aux modèles fermés des grandes entreprises américaines.",
            "Avec 400 millions de dollars de départ, la structure reste modeste face aux dizaines de milliards investis chaque année par les géants du secteur. Ses promoteurs le reconnaissent volontiers. « Nous voulons que l'IA profite au plus grand nombre et pas seulement à quelques entreprises », a expliqué son dirigeant, Martin Tisné, lors d'une table ronde.",
            "Des chercheurs saluent l'accent mis sur les données ouvertes, qui manquent cruellement à de nombreux laboratoires publics. D'autres s'interrogent sur la gouvernance de la fondation, dont le conseil d'administration associera Etats et entreprises privées.",
            "La Quadrature du Net, de son côté, dénonce « un habillage éthique » destiné à faire accepter le déploiement massif de l'IA, sans remettre en cause ses effets sur l'environnement et les libertés.",
        ],
    },
    {
        "id": "E08",
        "headlines_a": [
            "Une coalition d'associations appelle à « résister » au déploiement de l'IA",
            "Contre-sommet : la Quadrature du Net et la LDH lancent le mouvement Hiatus",
        ],
        "a": [
            "Une vingtaine d'associations, de syndicats et de collectifs, parmi lesquels la Quadrature du Net et la Ligue des droits de l'Homme, ont lancé vendredi 7 février une coalition baptisée Hiatus pour « résister au déploiement massif et généralisé » de l'intelligence artificielle.",
            "Dans un texte commun publié à quelques jours du sommet de Paris, les signataires estiment que « loin de constituer la technologie salvatrice souvent mise en avant, l'IA accélère au contraire le désastre écologique, renforce les injustices et aggrave la concentration des pouvoirs ».",
            "La coalition réclame « une maîtrise démocratique de cette technologie et une limitation drastique de ses usages », en particulier dans les services publics, la police et le monde du travail. Elle annonce des actions communes dans les prochains mois.",
            "Les organisateurs du sommet assurent de leur côté que la société civile a été associée aux travaux préparatoires, au travers de consultations en ligne et de journées scientifiques organisées début février.",
        ],
        "headlines_b": [
            "« Hiatus », le front du refus face à l'emballement pour l'IA",
        ],
        "b": [
            "Ils ne seront pas au Grand Palais. Militants du numérique libre, syndicalistes et défenseurs des libertés ont choisi de se réunir dans une salle associative du XXe arrondissement pour présenter Hiatus, une coalition opposée à ce qu'ils appellent « l'IA partout, tout le temps ».",
            "« Nous ne sommes pas technophobes, nous refusons qu'on nous impose des outils sans débat », explique une porte-parole de la Quadrature du Net. Le manifeste de la coalition affirme que l'IA « accélère au contraire le désastre écologique, renforce les injustices et aggrave la concentration des pouvoirs ».",
            "Les syndicats présents insistent sur le monde du travail, où l'automatisation sert selon eux à intensifier les cadences et à surveiller les salariés. Une enseignante raconte l'arrivée d'outils de correction automatique dans son académie, sans concertation avec les équipes.",
            "La coalition demande une « limitation drastique » des usages et un moratoire sur les nouveaux centres de données, le temps d'évaluer leur impact sur les ressources en eau et en électricité.",
        ],
    },
    {
        "id": "E09",
        "headlines_a": [
            "Mistral AI annonce un centre de données en Essonne",
            "IA : la pépite française Mistral AI va construire son propre centre de calcul",
        ],
        "a": [
            "La start-up française Mistral AI a annoncé lundi 10 février qu'elle allait investir plusieurs milliards d'euros dans un centre de données situé en Essonne, afin de disposer de sa propre capacité de calcul pour entraîner ses modèles d'intelligence artificielle.",
            "« Nous avons besoin d'infrastructures souveraines pour rester dans la course », a déclaré son cofondateur et directeur général Arthur Mensch, en marge du sommet de Paris. L'entreprise, valorisée environ six milliards d'euros, dépendait jusqu'ici de capacités louées à des fournisseurs de cloud, notamment américains.",
            "Mistral AI a également revendiqué un fort succès pour son assistant conversationnel Le Chat, dont l'application mobile s'est hissée en tête des téléchargements en France quelques jours après son lancement, aidée par une vidéo de soutien publiée par Emmanuel Macron.",
            "Fondée en 2023 par d'anciens chercheurs de Google DeepMind et de Meta, la société est devenue le symbole des ambitions françaises dans l'IA générative, face à OpenAI, Google ou Anthropic.",
        ],
        "headlines_b": [
            "Mistral AI, champion national à l'épreuve du gigantisme",
        ],
        "b": [
            "Pendant le sommet, impossible d'échapper à Mistral AI. Le président de la République a vanté son assistant Le Chat à la télévision, les ministres citent la jeune pousse dans chaque discours, et son patron, Arthur Mensch, a enchaîné les rendez-vous au Grand Palais.",
            "L'entreprise a profité de l'événement pour annoncer un centre de calcul en région parisienne. « Nous avons besoin d'infrastructures souveraines pour rester dans la course », a justifié le dirigeant, sans préciser le montant exact de l'investissement ni son calendrier.",
            "Le défi est immense. Face aux dizaines de milliards de dollars engagés chaque année par ses concurrents américains, Mistral AI doit convaincre investisseurs et clients qu'un acteur européen peut rester au niveau. Plusieurs grands groupes français ont signé des partenariats avec la start-up, de la banque à la défense.",
            "En interne, l'entreprise recrute à tour de bras : elle compte désormais plusieurs centaines de salariés entre Paris, Londres et la Californie, contre une poignée à sa création il y a moins de deux ans.",
        ],
    },
    {
        "id": "E10",
        "headlines_a": [
            "« Plug, baby, plug » : Macron vante l'électricité nucléaire pour attirer les data centers",
            "IA : Macron répond à Trump avec un « plug, baby, plug »",
        ],
        "a": [
            "Emmanuel Macron a vanté lundi 10 février l'électricité nucléaire française pour attirer les centres de données dédiés à l'intelligence artificielle, en reprenant à sa manière un slogan de Donald Trump lors de son discours au sommet de Paris.",
            "« J'ai un bon ami de l'autre côté de l'océan qui dit “drill, baby, drill”. Ici, il n'y a pas besoin de forer, c'est “plug, baby, plug” », a lancé le chef de l'Etat, en anglais, devant un parterre de dirigeants et d'investisseurs.",
            "La France dispose selon lui d'une électricité « décarbonée, pilotable et disponible », grâce à son parc de réacteurs exploité par EDF. L'énergéticien a identifié plusieurs terrains à proximité de ses centrales susceptibles d'accueillir des centres de données.",
            "Les écologistes ont dénoncé une vision qui ferait de la France « la prise électrique des géants du numérique », alors que la consommation des centres de données pourrait fortement augmenter d'ici la fin de la décennie.",
        ],
        "headlines_b": [
            "Data centers : la France peut-elle vraiment fournir l'électricité promise ?",
        ],
        "b": [
            "La formule a fait le tour des réseaux sociaux. « Ici, il n'y a pas besoin de forer, c'est “plug, baby, plug” », a plaisanté Emmanuel Macron au Grand Palais, détournant le slogan pétrolier de Donald Trump pour vanter le nucléaire français.",
            "Sur le papier, l'argument tient : la France exporte massivement son électricité depuis le redémarrage de plusieurs réacteurs, et le réseau dispose de marges importantes. Mais les spécialistes du secteur rappellent qu'un raccordement de forte puissance peut prendre plusieurs années.",
            "RTE, le gestionnaire du réseau, estime que la consommation des centres de données pourrait tripler d'ici 2035. « Ce n'est pas la production qui manque, ce sont les lignes et les postes électriques au bon endroit », résume un ingénieur du secteur.",
            "Les élus écologistes, eux, demandent une planification publique pour éviter que l'électricité bon marché ne profite d'abord aux hébergeurs étrangers au détriment de l'industrie et des ménages.",
        ],
    },
    {
        "id": "E11",
        "headlines_a": [
            "IA et emploi : la CGT réclame un droit de regard des salariés",
            "Sommet sur l'IA : les syndicats veulent peser sur l'automatisation",
        ],
        "a": [
            "La CGT a réclamé jeudi 6 février un « droit de regard » des représentants du personnel sur l'introduction de l'intelligence artificielle dans les entreprises, à quelques jours de l'ouverture du sommet international organisé à Paris.",
            "« On ne peut pas laisser les directions déployer des outils qui transforment le travail sans en discuter avec ceux qui le font », a déclaré la secrétaire générale de la confédération, Sophie Binet, lors d'une conférence de presse à Montreuil.",
            "Le syndicat demande que tout projet d'automatisation fasse l'objet d'une consultation obligatoire du comité social et économique, ainsi qu'une étude d'impact sur l'emploi et les conditions de travail. Il réclame aussi des moyens pour former les salariés.",
            "Une journée consacrée à l'IA et au travail doit se tenir pendant le sommet, avec des représentants syndicaux et patronaux de plusieurs pays. L'Organisation internationale du travail estime qu'une part importante des emplois de bureau sera transformée plutôt que supprimée.",
        ],
        "headlines_b": [
            "Dans les entreprises, l'IA s'installe sans dialogue social",
        ],
        "b": [
            "Dans ce centre d'appels de la banlieue lyonnaise, l'outil est arrivé un lundi matin. Un logiciel propose désormais des réponses aux conseillers et note leurs échanges avec les clients. « Personne ne nous a demandé notre avis », raconte une salariée, déléguée syndicale depuis dix ans.",
            "Ce type de témoignage nourrit les revendications des syndicats à la veille du sommet de Paris. « On ne peut pas laisser les directions déployer des outils qui transforment le travail sans en discuter avec ceux qui le font », insiste Sophie Binet, à la tête de la CGT.",
            "Côté patronal, on met en avant les gains de productivité et la nécessité de ne pas freiner l'adoption de technologies déjà utilisées par les concurrents étrangers. Plusieurs fédérations disent toutefois travailler à des chartes d'usage négociées avec les représentants du personnel.",
            "Les juristes rappellent que le droit actuel impose déjà de consulter le comité social et économique en cas d'introduction de nouvelles technologies, une obligation encore très inégalement respectée.",
        ],
    },
    {
        "id": "E12",
        "headlines_a": [
            "Une vidéo d'Emmanuel Macron truquée par l'IA publiée par... Emmanuel Macron",
            "Sommet IA : Macron se met en scène dans des hypertrucages",
        ],
        "a": [
            "Emmanuel Macron a publié dimanche 9 février sur les réseaux sociaux une vidéo composée de faux montages réalisés avec l'intelligence artificielle, dans lesquels il apparaît notamment dans des séries télévisées et des clips musicaux, pour promouvoir le sommet de Paris.",
            "« Le sommet sur l'IA, c'est cette semaine », conclut le président, après une succession de séquences humoristiques. La vidéo a été vue plusieurs millions de fois en quelques heures sur Instagram et TikTok.",
            "Le choix a été critiqué par des spécialistes de la désinformation, qui estiment que banaliser les hypertrucages, ou « deepfakes », alors que ces techniques servent à manipuler des élections ou à harceler des personnes, envoie un mauvais signal.",
            "L'Elysée a défendu une démarche de « sensibilisation », destinée à montrer au grand public ce dont ces outils sont capables et l'importance de les encadrer.",
        ],
        "headlines_b": [
            "Deepfakes présidentiels : le coup de com' de l'Elysée qui divise",
        ],
        "b": [
            "On y voit le président en chanteur des années 1980, en personnage de série policière ou en coiffeur improvisé. La vidéo publiée dimanche par le compte officiel d'Emmanuel Macron, entièrement composée d'images générées par l'intelligence artificielle, a fait sourire autant qu'elle a agacé.",
            "Pour les chercheurs qui travaillent sur la désinformation, le procédé pose problème. « Quand le chef de l'Etat joue avec les deepfakes, il rend plus difficile le travail de ceux qui expliquent qu'il faut s'en méfier », regrette une universitaire spécialiste des médias.",
            "A l'Elysée, on assume un exercice de pédagogie. « Le sommet sur l'IA, c'est cette semaine », rappelle la dernière image, qui renvoie vers le programme de l'événement. Les conseillers du président soulignent que chaque séquence était clairement identifiable comme fausse.",
            "Plusieurs parlementaires ont demandé que les contenus générés par l'IA soient systématiquement signalés par une mention visible, une obligation prévue par le règlement européen mais pas encore applicable.",
        ],
    },
]

# One party's press-release template used for unrelated topics (hard negatives).
STATEMENT_HEADER = [
    "Communiqué de presse",
    "Mouvement pour un numérique citoyen (MNC)",
]
STATEMENT_FOOTER = [
    "Le Mouvement pour un numérique citoyen continuera de porter ces propositions au Parlement comme dans les territoires, aux côtés des citoyennes et des citoyens.",
    "Contact presse : presse@mnc-exemple.fr",
]

STATEMENTS: list[Statement] = [
    {
        "id": "S01",
        "title": "Sommet sur l'IA : les 109 milliards ne font pas une politique industrielle",
        "paras": [
            "Le Mouvement pour un numérique citoyen prend acte des annonces faites par le président de la République à la veille du sommet pour l'action sur l'intelligence artificielle.",
            "Les 109 milliards d'euros annoncés reposent pour l'essentiel sur des fonds étrangers dont la logique est financière avant d'être industrielle. Aucune garantie n'a été donnée sur les emplois créés, sur la localisation des activités de recherche ou sur la propriété des infrastructures.",
            "Nous demandons que tout soutien public à un projet de centre de données soit conditionné à des engagements précis : emplois locaux, réutilisation de la chaleur produite, sobriété en eau et accès prioritaire des laboratoires publics aux capacités de calcul.",
            "La souveraineté numérique ne se décrète pas dans un entretien télévisé. Elle suppose une stratégie de long terme, un effort de formation massif et un investissement public dans la recherche, précisément là où le budget 2025 opère des coupes.",
        ],
    },
    {
        "id": "S02",
        "title": "Fermeture des bureaux de poste ruraux : l'accès au service public n'est pas négociable",
        "paras": [
            "Le Mouvement pour un numérique citoyen prend acte de l'annonce de la fermeture de plusieurs dizaines de bureaux de poste dans les départements ruraux au cours de l'année 2025.",
            "Derrière la promesse de « points de contact » installés chez les commerçants se cache une nouvelle dégradation de l'accès aux services essentiels. Les personnes âgées et celles qui ne maîtrisent pas les démarches en ligne en seront les premières victimes.",
            "Nous rappelons qu'un habitant sur six ne dispose pas d'un accès satisfaisant à internet ou des compétences nécessaires pour effectuer seul ses démarches. La dématérialisation ne peut pas servir de prétexte au retrait de l'Etat des territoires.",
            "Nous demandons un moratoire sur les fermetures, l'ouverture d'une concertation avec les maires concernés et la création de maisons de services publics dotées de personnels formés dans chaque canton.",
        ],
    },
    {
        "id": "S03",
        "title": "Reconnaissance faciale dans les stades : une ligne rouge franchie",
        "paras": [
            "Le Mouvement pour un numérique citoyen prend acte avec inquiétude de la proposition de loi visant à autoriser l'expérimentation de la reconnaissance faciale aux abords des stades et des grands événements sportifs.",
            "Présentée comme temporaire, cette expérimentation ouvrirait la voie à une surveillance biométrique généralisée de l'espace public. L'expérience montre que les dispositifs d'exception tendent à devenir permanents une fois installés.",
            "Aucune étude indépendante n'a démontré l'efficacité de ces technologies pour prévenir les violences. Leurs taux d'erreur, plus élevés pour certaines catégories de population, exposent au contraire à des contrôles injustifiés.",
            "Nous appelons les parlementaires à rejeter ce texte et demandons l'inscription dans la loi d'une interdiction claire de l'identification biométrique à distance dans l'espace public, conformément aux recommandations de nombreuses associations de défense des libertés.",
        ],
    },
    {
        "id": "S04",
        "title": "Ecole : non à la suppression des postes d'enseignants en informatique",
        "paras": [
            "Le Mouvement pour un numérique citoyen prend acte de la baisse annoncée du nombre de postes ouverts au concours de professeurs de numérique et sciences informatiques pour la session 2025.",
            "Alors que le gouvernement répète que la France doit former des dizaines de milliers de spécialistes de l'intelligence artificielle, cette décision est incohérente. Dans de nombreux lycées, l'enseignement de spécialité n'est déjà plus proposé faute de professeurs.",
            "Les filles restent très minoritaires dans ces filières. Sans enseignants en nombre suffisant, sans options accessibles dès le collège, l'écart continuera de se creuser et privera le pays de talents.",
            "Nous demandons le rétablissement des postes supprimés, un plan de formation continue pour les enseignants volontaires et la généralisation d'un enseignement de culture numérique critique à tous les niveaux.",
        ],
    },
    {
        "id": "S05",
        "title": "Centres de données et eau : les communes doivent avoir le dernier mot",
        "paras": [
            "Le Mouvement pour un numérique citoyen prend acte de l'accélération des projets de centres de données sur le territoire, encouragée par les procédures simplifiées annoncées par le gouvernement.",
            "Dans plusieurs départements déjà touchés par des arrêtés de restriction d'eau l'été dernier, des projets prévoient des systèmes de refroidissement consommant des volumes considérables. Les habitants l'apprennent souvent par voie de presse, une fois les permis délivrés.",
            "Le raccordement de ces équipements mobilise en outre des capacités électriques importantes, au détriment parfois de projets industriels locaux ou de l'électrification des transports.",
            "Nous demandons qu'aucun projet ne puisse être autorisé sans une étude d'impact publique sur l'eau et l'énergie, sans l'avis conforme du conseil municipal et sans une consultation des habitants.",
        ],
    },
    {
        "id": "S06",
        "title": "Logement étudiant : l'urgence est ignorée",
        "paras": [
            "Le Mouvement pour un numérique citoyen prend acte du report, une nouvelle fois, du plan de construction de logements étudiants promis depuis le début du quinquennat.",
            "A la rentrée, des milliers d'étudiantes et d'étudiants ont commencé l'année sans solution de logement stable, contraints de dormir chez des proches ou d'accepter des loyers qui absorbent l'essentiel de leurs ressources.",
            "Les plateformes de location ont aggravé la pénurie dans les villes universitaires en retirant du marché de nombreux logements au profit de la location touristique de courte durée, sans régulation suffisante.",
            "Nous demandons la construction de soixante mille logements sociaux étudiants d'ici 2027, l'encadrement effectif des loyers dans toutes les villes universitaires et une limitation stricte des meublés de tourisme.",
        ],
    },
]

# Articles that quote a statement at length without being a copy of it (hard negatives).
QUOTING_ARTICLES: list[QuotingArticle] = [
    {
        "id": "Q01",
        "quotes": "S01",
        "title": "Les 109 milliards de l'Elysée critiqués par un petit mouvement citoyen",
        "paras": [
            "Les annonces présidentielles n'ont pas convaincu tout le monde. Dans un communiqué diffusé lundi, le Mouvement pour un numérique citoyen, une formation qui revendique quelques milliers d'adhérents, estime que l'argent promis ne suffira pas à bâtir une filière.",
            "« Les 109 milliards d'euros annoncés reposent pour l'essentiel sur des fonds étrangers dont la logique est financière avant d'être industrielle », écrit le mouvement, qui réclame des contreparties en matière d'emploi et d'accès des laboratoires publics aux capacités de calcul.",
            "Interrogé, un conseiller ministériel juge ces critiques « prévisibles » et rappelle que les investissements étrangers créeront des chantiers sur le territoire. Les économistes, eux, restent partagés sur l'effet d'entraînement de centres de données largement automatisés.",
            "Le mouvement, fondé en 2021, s'est fait connaître par ses campagnes contre la fermeture des services publics de proximité et pour la protection des données personnelles.",
        ],
    },
    {
        "id": "Q02",
        "quotes": "S03",
        "title": "Reconnaissance faciale : la proposition de loi divise jusque dans la majorité",
        "paras": [
            "La proposition de loi autorisant l'expérimentation de la reconnaissance faciale autour des stades doit être examinée la semaine prochaine en commission. Le texte suscite des réserves jusque dans les rangs de la majorité présidentielle.",
            "Plusieurs organisations ont déjà fait connaître leur opposition. Le Mouvement pour un numérique citoyen dénonce ainsi « une surveillance biométrique généralisée de l'espace public » et rappelle qu'« aucune étude indépendante n'a démontré l'efficacité de ces technologies pour prévenir les violences ».",
            "Les promoteurs du texte répondent que les garanties sont nombreuses : durée limitée, contrôle de la Cnil, interdiction de croiser les images avec d'autres fichiers. Les préfets devraient en outre motiver chaque autorisation.",
            "La Cnil, sollicitée pour avis, n'a pas encore rendu ses conclusions. Les instances sportives se montrent favorables, tandis que les associations de supporters annoncent des recours si le texte est adopté.",
        ],
    },
    {
        "id": "Q03",
        "quotes": "S05",
        "title": "Dans l'Eure, un projet de centre de données inquiète les riverains",
        "paras": [
            "Réunion publique houleuse mardi soir à la salle des fêtes. Une centaine d'habitants sont venus interroger les représentants d'un promoteur qui projette d'installer un centre de données sur une ancienne friche industrielle de la commune.",
            "Les questions ont surtout porté sur l'eau. Le département a connu l'été dernier plusieurs arrêtés de restriction, et les riverains redoutent que le refroidissement des serveurs ne pèse sur la nappe. Le promoteur assure que le système fonctionnera en circuit fermé.",
            "Le Mouvement pour un numérique citoyen, présent dans la salle, a distribué un tract reprenant son dernier communiqué : « Nous demandons qu'aucun projet ne puisse être autorisé sans une étude d'impact publique sur l'eau et l'énergie ».",
            "Le maire, qui dit avoir découvert le projet « en même temps que tout le monde », promet une consultation avant toute décision du conseil municipal.",
        ],
    },
]

# Context paragraphs that outlets add to a dispatch.
BACKGROUND: list[str] = [
    "Le sommet pour l'action sur l'intelligence artificielle, coprésidé par la France et l'Inde, réunit les 10 et 11 février au Grand Palais des chefs d'Etat et de gouvernement, des dirigeants d'entreprises et des représentants de la société civile venus d'une centaine de pays.",
    "Ce rendez-vous fait suite aux sommets de Bletchley Park, au Royaume-Uni, en novembre 2023, et de Séoul, en mai 2024, qui avaient surtout porté sur les risques posés par les modèles d'intelligence artificielle les plus puissants.",
    "Depuis le lancement de ChatGPT fin 2022, les investissements dans l'intelligence artificielle générative ont explosé, portés par les géants américains du numérique, tandis que l'Europe cherche à faire émerger ses propres champions.",
    "Le règlement européen sur l'intelligence artificielle, dit AI Act, est entré en vigueur en août 2024. Ses premières interdictions, qui visent notamment la notation sociale et certaines formes de surveillance biométrique, s'appliquent depuis le 2 février.",
    "Selon l'Agence internationale de l'énergie, la consommation d'électricité des centres de données pourrait plus que doubler d'ici 2030 dans le monde, sous l'effet du développement de l'intelligence artificielle.",
    "L'annonce intervient alors que la start-up chinoise DeepSeek a bousculé le secteur fin janvier en présentant un modèle performant dont l'entraînement aurait coûté bien moins cher que ceux de ses concurrents américains.",
]

OUTLETS: list[dict[str, list[str]]] = [
    {
        "head": [
            "Article rédigé par franceinfo avec AFP",
            "France Télévisions",
            "Publié le 10/02/2025 11:42",
            "Temps de lecture : 2min",
        ],
        "foot": ["Commentaires", "Connectez-vous ou créez votre espace franceinfo pour commenter."],
    },
    {
        "head": [
            "Par Le Figaro avec AFP",
            "Publié le 10 février 2025 à 11h42, mis à jour le 10 février 2025 à 12h05",
        ],
        "foot": ["Sur le même sujet", "Partager"],
    },
    {
        "head": ["Le Parisien avec AFP", "Le 10 février 2025 à 11h47"],
        "foot": ["Newsletter L'essentiel du jour : notre sélection exclusive de l'actualité"],
    },
    {
        "head": [
            "20 Minutes avec AFP",
            "Publié le 10/02/25 à 11h42 — Mis à jour le 10/02/25 à 13h10",
        ],
        "foot": ["Lire plus tard", "Partager"],
    },
    {
        "head": ["Ouest-France avec AFP.", "Publié le 10/02/2025 à 11h51"],
        "foot": ["Abonnez-vous pour lire la suite de nos articles et soutenir notre rédaction."],
    },
    {
        "head": ["La Croix (avec AFP)", "le 10/02/2025 à 12:03"],
        "foot": ["Lire aussi : Intelligence artificielle, les chiffres clés du sommet de Paris"],
    },
]

# Outlets publishing their own reporting (no agency credit).
OWN_OUTLETS: list[dict[str, list[str]]] = [
    {
        "head": ["Par Claire Dumont", "Publié le 10 février 2025 à 18h30"],
        "foot": ["Il vous reste 35% de cet article à lire. La suite est réservée aux abonnés."],
    },
    {
        "head": ["Menu", "Economie", "publié le 10 février 2025 à 20h14"],
        "foot": ["Partager", "Commentaires"],
    },
    {
        "head": ["Par Julien Morel et Sarah Benali", "Le 11 février 2025 à 07h00"],
        "foot": ["Lire aussi : Sommet sur l'IA, le programme des deux jours"],
    },
]

CAPTIONS: list[str] = [
    "Emmanuel Macron au Grand Palais, à Paris, le 10 février 2025. (LUDOVIC MARIN / AFP)",
    "Des participants au sommet pour l'action sur l'IA, à Paris, le 10 février 2025. (ABDUL SABOOR / REUTERS)",
    "Le Grand Palais, à Paris, où se tient le sommet sur l'intelligence artificielle. (Photo by Stephane de Sakutin / AFP)",
]


# --- generator -------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "dedup_pairs.jsonl"
_ACCENTS = str.maketrans("éèêàùâîôç", "eeeauaioc")


def compose(head: list[str], title: str | None, paras: list[str], foot: list[str]) -> str:
    """A page's extracted text: outlet header lines, headline, paragraphs, footer lines."""
    lines = ([title] if title else []) + head + [""] + paras + [""] + foot
    return "\n\n".join(line for line in lines if line is not None).replace("\n\n\n\n", "\n\n")


def typos(text: str, rng: random.Random, count: int = 4) -> str:
    """The same text with a few typing errors (letters swapped, accents dropped)."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) > 5 and w.isalpha()]
    for i in rng.sample(candidates, min(count, len(candidates))):
        w = words[i]
        if rng.random() < 0.5 and w.translate(_ACCENTS) != w:
            words[i] = w.translate(_ACCENTS)
        else:
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def _seed_docs() -> dict[str, str]:
    return {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))}


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.splitlines() if p.strip()]


def duplicate_variants(
    key: str, titles: list[str], paras: list[str], kinds: list[str], rng: random.Random
) -> list[Pair]:
    """Duplicate pairs: the same text as published twice, with the edits named by ``kind``."""
    pairs: list[Pair] = []
    for n, kind in enumerate(kinds):
        out_a, out_b = rng.sample(OUTLETS, 2)
        title_a = titles[0]
        title_b = titles[1] if len(titles) > 1 else titles[0]
        pa = list(paras)
        pb = list(paras)
        head_b, foot_b = list(out_b["head"]), list(out_b["foot"])
        if kind == "headline":
            pass  # different outlet boilerplate and headline only
        elif kind == "intro":
            pb.insert(0, rng.choice(BACKGROUND[:1] + [paras[0].split(", ")[0] + "."]))
            title_b = title_a
        elif kind == "para_cut":
            del pb[rng.randrange(1, len(pb))]
        elif kind == "para_added":
            pb.insert(rng.randrange(2, len(pb) + 1), rng.choice(BACKGROUND))
            title_b = title_a
        elif kind == "lire_aussi":
            pb.insert(2, "Lire aussi : " + rng.choice(EVENTS)["headlines_a"][0])
            pb.insert(1, rng.choice(CAPTIONS))
        elif kind == "cut_and_added":
            del pb[len(pb) - 1]
            pb.insert(1, rng.choice(BACKGROUND))
        elif kind == "typo_fix":
            pa = typos("\n\n".join(paras), rng, 3).split("\n\n")
            title_b = title_a
        elif kind == "credits":
            title_b = title_a
            head_b = [rng.choice(["Par la rédaction avec AFP", "Avec AFP", "AFP"])]
            pb.insert(1, rng.choice(CAPTIONS))
        elif kind == "paywall":
            keep = max(2, round(len(pb) * 0.75))
            pb = pb[:keep]
            foot_b = ["Il vous reste 27% de cet article à lire. La suite est réservée aux abonnés."]
        elif kind == "revision":
            i = rng.randrange(1, len(pb))
            pb[i] = (
                pb[i]
                + " "
                + rng.choice(
                    [
                        "Cette information a été confirmée en fin de journée par l'entourage du ministre.",
                        "Plusieurs délégations ont demandé des précisions sur ce point, selon une source diplomatique.",
                        "Le gouvernement doit détailler ces mesures lors d'une conférence de presse mercredi.",
                    ]
                )
            )
            foot_b = ["Mis à jour le 10/02/2025 à 17h20 avec de nouveaux éléments"]
        else:
            raise ValueError(kind)
        pairs.append(
            {
                "id": f"dup-{key}-{n}",
                "a": compose(out_a["head"], title_a, pa, out_a["foot"]),
                "b": compose(head_b, title_b, pb, foot_b),
                "duplicate": True,
                "kind": kind,
            }
        )
    return pairs


def build_pairs() -> list[Pair]:
    """All labelled pairs, deterministic."""
    rng = random.Random(20250210)
    pairs: list[Pair] = []
    kinds_cycle = [
        "headline",
        "para_cut",
        "para_added",
        "intro",
        "lire_aussi",
        "credits",
        "cut_and_added",
        "paywall",
        "revision",
        "typo_fix",
    ]
    k = 0

    def next_kinds(n: int) -> list[str]:
        nonlocal k
        out = [kinds_cycle[(k + i) % len(kinds_cycle)] for i in range(n)]
        k += n
        return out

    # Duplicates of wire dispatches (3 each) and of outlets' own reports (1 each).
    for ev in EVENTS:
        pairs += duplicate_variants(
            f"{ev['id']}a",
            ev["headlines_a"],
            ev["a"],
            next_kinds(3),
            rng,
        )
        pairs += duplicate_variants(
            f"{ev['id']}b",
            ev["headlines_b"],
            ev["b"],
            next_kinds(1),
            rng,
        )
    # Party statements republished (typo fixed, other credits, one paragraph cut).
    for st in STATEMENTS:
        for n, kind in enumerate(["typo_fix", "statement_site"]):
            paras = list(st["paras"])
            title = st["title"]
            a = compose(
                STATEMENT_HEADER + ["Paris, le 10 février 2025"],
                title,
                typos("\n\n".join(paras), rng, 3).split("\n\n") if kind == "typo_fix" else paras,
                STATEMENT_FOOTER,
            )
            if kind == "typo_fix":
                b = compose(STATEMENT_HEADER + ["Paris, le 10 février 2025"], title, paras, STATEMENT_FOOTER)
            else:  # republished by a local federation, own header, footer cut
                b = compose(
                    ["Actualités", "Publié par la fédération de la Gironde", "11 février 2025"],
                    title,
                    paras + [STATEMENT_FOOTER[0]],
                    ["Partager", "Adhérer"],
                )
            pairs.append({"id": f"dup-{st['id']}-{n}", "a": a, "b": b, "duplicate": True, "kind": kind})
    # Real seed documents republished.
    seeds = _seed_docs()
    for code, text in seeds.items():
        paras = _paragraphs(text)
        if code == "000":  # franceinfo's AFP copy vs another outlet's copy of the same dispatch
            body = [p for p in paras[8:] if p not in ("Commentaires",) and not p.startswith("Connectez")]
            b = compose(OUTLETS[1]["head"], paras[0], body, OUTLETS[1]["foot"])
            kind = "seed_wire_copy"
        elif code == "003":  # paywalled page vs the full text seen by a subscriber (+1 paragraph)
            b = "\n".join(paras[:-1] + [BACKGROUND[0]])
            kind = "seed_paywall"
        else:  # statement / article re-published with a fixed typo and other page furniture
            b = "\n\n".join(["Accueil", "Actualités", typos("\n\n".join(paras), rng, 3), "Partager"])
            kind = "seed_republished"
        pairs.append({"id": f"dup-seed{code}", "a": text, "b": b, "duplicate": True, "kind": kind})

    # Non-duplicates: same event covered independently (shared quotes and facts).
    for i, ev in enumerate(EVENTS):
        oa, ob = OUTLETS[i % len(OUTLETS)], OWN_OUTLETS[i % len(OWN_OUTLETS)]
        pairs.append(
            {
                "id": f"non-{ev['id']}-same-event",
                "a": compose(oa["head"], ev["headlines_a"][0], ev["a"], oa["foot"]),
                "b": compose(ob["head"], ev["headlines_b"][0], ev["b"], ob["foot"]),
                "duplicate": False,
                "kind": "same_event",
            }
        )
        # The dispatch with an added background paragraph vs the other outlet's report.
        bg = BACKGROUND[i % len(BACKGROUND)]
        pairs.append(
            {
                "id": f"non-{ev['id']}-same-event-bg",
                "a": compose([], ev["headlines_a"][1], ev["a"][:2] + [bg] + ev["a"][2:], []),
                "b": compose([], ev["headlines_b"][0], ev["b"] + [bg], []),
                "duplicate": False,
                "kind": "same_event_shared_background",
            }
        )
    # Related events (same summit, different news) published by the same outlet template.
    for i, ev in enumerate(EVENTS):
        other = EVENTS[(i + 1) % len(EVENTS)]
        out = OUTLETS[i % len(OUTLETS)]
        pairs.append(
            {
                "id": f"non-{ev['id']}-{other['id']}",
                "a": compose(out["head"], ev["headlines_a"][0], ev["a"], out["foot"]),
                "b": compose(out["head"], other["headlines_a"][0], other["a"], out["foot"]),
                "duplicate": False,
                "kind": "same_outlet_other_story",
            }
        )
    # Same party template, different topics.
    for s1, s2 in itertools.combinations(STATEMENTS, 2):
        pairs.append(
            {
                "id": f"non-{s1['id']}-{s2['id']}",
                "a": compose(
                    STATEMENT_HEADER + ["Paris, le 10 février 2025"],
                    s1["title"],
                    s1["paras"],
                    STATEMENT_FOOTER,
                ),
                "b": compose(
                    STATEMENT_HEADER + ["Paris, le 12 février 2025"],
                    s2["title"],
                    s2["paras"],
                    STATEMENT_FOOTER,
                ),
                "duplicate": False,
                "kind": "party_template",
            }
        )
    # Articles quoting a statement at length.
    by_id = {s["id"]: s for s in STATEMENTS}
    for q in QUOTING_ARTICLES:
        st = by_id[q["quotes"]]
        pairs.append(
            {
                "id": f"non-{q['id']}-{st['id']}",
                "a": compose(STATEMENT_HEADER, st["title"], st["paras"], STATEMENT_FOOTER),
                "b": compose(OWN_OUTLETS[0]["head"], q["title"], q["paras"], []),
                "duplicate": False,
                "kind": "quotes_statement",
            }
        )
    # Real seed documents: five different texts on the same summit.
    for (c1, t1), (c2, t2) in itertools.combinations(seeds.items(), 2):
        pairs.append(
            {"id": f"non-seed{c1}-{c2}", "a": t1, "b": t2, "duplicate": False, "kind": "seed_same_topic"}
        )
    return pairs


def main() -> None:
    pairs = build_pairs()
    with OUT.open("w", encoding="utf-8") as fh:
        for pair in pairs:
            fh.write(json.dumps(pair, ensure_ascii=False) + "\n")
    dup = sum(1 for p in pairs if p["duplicate"])
    print(f"wrote {len(pairs)} pairs ({dup} duplicates, {len(pairs) - dup} non-duplicates) to {OUT}")


if __name__ == "__main__":
    main()
