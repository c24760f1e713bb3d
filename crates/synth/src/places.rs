//! Communes of Moselle-Est (with INSEE and postal codes) and towns of Saarland (with postal
//! codes), plus street names to build addresses.
//!
//! Codes are the published ones as far as the author knows them; they are reference data for a
//! synthetic population, not an authoritative gazetteer.

/// A French commune: INSEE code (département 57 + 3-digit commune number), postal code, name.
pub struct Commune {
    pub insee: &'static str,
    pub postal: &'static str,
    pub name: &'static str,
}

pub const MOSELLE_EST: &[Commune] = &[
    Commune {
        insee: "57227",
        postal: "57600",
        name: "Forbach",
    },
    Commune {
        insee: "57631",
        postal: "57200",
        name: "Sarreguemines",
    },
    Commune {
        insee: "57606",
        postal: "57500",
        name: "Saint-Avold",
    },
    Commune {
        insee: "57160",
        postal: "57150",
        name: "Creutzwald",
    },
    Commune {
        insee: "57240",
        postal: "57800",
        name: "Freyming-Merlebach",
    },
    Commune {
        insee: "57660",
        postal: "57350",
        name: "Stiring-Wendel",
    },
    Commune {
        insee: "57089",
        postal: "57230",
        name: "Bitche",
    },
    Commune {
        insee: "57058",
        postal: "57460",
        name: "Behren-lès-Forbach",
    },
    Commune {
        insee: "57332",
        postal: "57470",
        name: "Hombourg-Haut",
    },
    Commune {
        insee: "57207",
        postal: "57450",
        name: "Farébersviller",
    },
    Commune {
        insee: "57537",
        postal: "57540",
        name: "Petite-Rosselle",
    },
    Commune {
        insee: "57209",
        postal: "57380",
        name: "Faulquemont",
    },
    Commune {
        insee: "57628",
        postal: "57430",
        name: "Sarralbe",
    },
    Commune {
        insee: "57556",
        postal: "57510",
        name: "Puttelange-aux-Lacs",
    },
];

pub const FR_STREETS: &[&str] = &[
    "rue Nationale",
    "rue de la Gare",
    "rue du Général de Gaulle",
    "rue des Mines",
    "avenue Saint-Rémy",
    "rue de Sarreguemines",
    "rue de l'Église",
    "rue des Écoles",
    "rue Principale",
    "rue de la Chapelle",
    "rue des Tilleuls",
    "rue du Puits",
];

/// A Saarland town: postal code and name.
pub struct Ort {
    pub postal: &'static str,
    pub name: &'static str,
}

pub const SAARLAND: &[Ort] = &[
    Ort {
        postal: "66111",
        name: "Saarbrücken",
    },
    Ort {
        postal: "66333",
        name: "Völklingen",
    },
    Ort {
        postal: "66538",
        name: "Neunkirchen",
    },
    Ort {
        postal: "66424",
        name: "Homburg",
    },
    Ort {
        postal: "66740",
        name: "Saarlouis",
    },
    Ort {
        postal: "66663",
        name: "Merzig",
    },
    Ort {
        postal: "66386",
        name: "St. Ingbert",
    },
    Ort {
        postal: "66763",
        name: "Dillingen/Saar",
    },
    Ort {
        postal: "66280",
        name: "Sulzbach/Saar",
    },
    Ort {
        postal: "66440",
        name: "Blieskastel",
    },
    Ort {
        postal: "66606",
        name: "St. Wendel",
    },
    Ort {
        postal: "66346",
        name: "Püttlingen",
    },
];

pub const DE_STREETS: &[&str] = &[
    "Hauptstraße",
    "Bahnhofstraße",
    "Saarbrücker Straße",
    "Kirchstraße",
    "Schulstraße",
    "Gartenstraße",
    "Lindenstraße",
    "Grubenweg",
    "Mühlenstraße",
    "Friedhofstraße",
    "Am Schloßberg",
    "Talstraße",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_right_shape() {
        for c in MOSELLE_EST {
            assert!(c.insee.starts_with("57") && c.insee.len() == 5);
            assert!(c.postal.starts_with("57") && c.postal.len() == 5);
        }
        for o in SAARLAND {
            assert!(o.postal.starts_with("66") && o.postal.len() == 5);
        }
    }
}
