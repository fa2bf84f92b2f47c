# La fenêtre d'apero, en français. Un message par ligne ; { $name } est rempli par l'application.
app-title = apero
offline-starting = Démarrage d'apero…
offline-not-running = Le service d'apero ne tourne pas : vous ne pouvez pas encore parler ni écrire.
offline-retrying = Cette fenêtre le lance quand vous appuyez sur le bouton ci-dessous, et vérifie toute seule.
offline-details = Détails pour qui vous aide
offline-start = Lancer apero
connected-as = Vous êtes { $name }

welcome-title = Bienvenue dans apero
welcome-intro = Appels, messages et fichiers entre amis, directement de votre ordinateur au leur.
welcome-name = Comment vos amis vous appellent-ils ?
welcome-continue = Continuer

sound-title = Votre micro et votre haut-parleur
sound-intro = Parlez : la barre bouge quand votre micro vous entend.
sound-level = Niveau du micro
sound-speak = Votre micro fonctionne : dites quelque chose.
sound-speaking = Votre voix passe bien.
sound-silent = Rien ne vient de ce micro : est-il coupé, ou un autre est-il branché ?
sound-test = Tester mon micro
sound-test-stop = Arrêter le test
sound-test-hint = Dites quelques mots : vous vous entendrez une seconde plus tard, comme vos amis vous entendront.
sound-in-call = Pendant un appel, votre niveau s'affiche dans le panneau de l'appel ; quittez l'appel pour tester votre micro.
sound-input-missing = Micro : { $error }
sound-output-missing = Haut-parleur : { $error }
sound-continue = Continuer

rooms = Salons
room-create = Nouveau salon
room-create-name = Nom du salon
room-create-confirm = Créer
room-leave = Quitter le salon
room-leave-confirm = Quitter { $room } ? Il vous faudra un nouveau code pour revenir.
room-members = { $online } sur { $members } en ligne
room-unread = { $count ->
    [one] { $count } nouveau message
   *[other] { $count } nouveaux messages
}
no-rooms = Vous n'êtes dans aucun salon. Créez-en un, ou rejoignez celui d'un ami avec le code qu'il vous a envoyé.
pick-room = Choisissez un salon à gauche.

join = Rejoindre avec un code
join-code = Code d'invitation
join-hint = Collez le code long, ou tapez le code court (comme 7-guitar-orbit).
join-confirm = Rejoindre
joining = Connexion… cela peut prendre jusqu'à une minute.
join-done = Vous avez rejoint { $room }.
err-invalid-code = Ce code n'est pas valable. Vérifiez-le et réessayez.
err-expired = Ce code a expiré. Demandez-en un nouveau à votre ami.
err-revoked = Ce code a été retiré. Demandez-en un nouveau à votre ami.
err-already-used = Ce code a déjà servi. Demandez-en un nouveau à votre ami.
err-unreachable = Personne de ce salon n'est joignable. Demandez à votre ami de garder apero ouvert, puis réessayez.
err-already-member = Vous êtes déjà dans ce salon.
err-refused = Le salon a refusé ce code.
err-no-such-code = Aucun salon n'a été trouvé pour ces mots. Vérifiez le nombre et les mots avec votre ami, puis réessayez.
cancel = Annuler
close = Fermer

invite = Inviter
invite-title = Inviter quelqu'un dans { $room }
invite-short = Code court, à lire au téléphone
invite-long = Code long, à envoyer par message ou courriel
invite-expiry = Valable
invite-once = Une seule personne peut s'en servir
invite-create = Créer un code
invite-code = Code d'invitation
invite-copy = Copier
invite-copied = Copié.
invite-expires = Valable jusqu'à { $time }.
minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
hours = { $n ->
    [one] { $n } heure
   *[other] { $n } heures
}
days = { $n ->
    [one] { $n } jour
   *[other] { $n } jours
}

chat-message = Message
chat-send = Envoyer
chat-empty = Pas encore de message. Dites bonjour !
chat-you = Vous
share-file = Partager un fichier
share-choose = Choisir un fichier…
share-no-chooser = Aucun sélecteur de fichiers ici : tapez le chemin du fichier ci-dessous, ou déposez le fichier sur la fenêtre.
share-path = Fichier à partager
share-confirm = Partager
share-drop = Ou déposez des fichiers sur la fenêtre.
file-offered = { $name } a partagé un fichier
file-download = Télécharger
file-cancel = Arrêter
file-open-folder = Ouvrir le dossier
file-progress = { $done } sur { $size }
file-done = Téléchargé
file-failed = Échec du téléchargement : { $error }
file-waiting = En attente de quelqu'un qui l'a

call = Appel
call-join = Rejoindre l'appel
call-leave = Quitter l'appel
call-mute = Couper le micro
call-unmute = Rétablir le micro
call-muted = Micro coupé
call-speaking = parle
call-in-room = { $count ->
    [one] { $count } personne dans l'appel
   *[other] { $count } personnes dans l'appel
}
call-nobody = Personne n'est dans l'appel.
call-volume = Volume de { $name }
call-quality-good = bonne connexion
call-quality-lossy = un peu de son se perd
call-quality-relayed = par un ami
call-path-direct = directe
call-path-relayed = relayée
call-no-mic = Pas de micro : vous pouvez écouter mais pas parler. { $error }
call-no-speaker = Pas de haut-parleur : on ne peut pas entendre les autres. { $error }
call-elsewhere = Vous êtes dans l'appel de { $room }.
level = Niveau de votre micro

settings = Réglages
settings-name = Votre nom
settings-name-save = Changer
settings-language = Langue
settings-language-system = Comme le système
settings-input = Micro
settings-output = Haut-parleur
settings-default-device = Par défaut
settings-login = Lancer apero à l'ouverture de session
settings-login-failed = Impossible de changer le lancement à l'ouverture de session : { $error }
settings-notifications = Me prévenir des messages, appels et fichiers dans :
settings-mute-shortcut = Tant que l'icône d'apero est dans le tableau de bord, Ctrl+Alt+M coupe et rétablit votre micro depuis n'importe quelle fenêtre. Si cette touche ne fait rien sur votre bureau, ajoutez dans les réglages de votre bureau un raccourci clavier qui lance cette commande :
settings-mute-command = Commande du raccourci micro
settings-theme = Apparence
settings-theme-system = Comme le système
settings-theme-light = Claire
settings-theme-dark = Sombre

error = Un problème est survenu : { $error }
dismiss = Fermer

# L'icône d'apero dans la barre (apero-tray) : son info-bulle, son menu et ses notifications.
tray-offline = apero est hors ligne : { $why }
tray-offline-connecting = connexion…
tray-offline-not-running = le service ne tourne pas
tray-offline-gone = le service s'est arrêté
tray-online = apero : en ligne en tant que { $name }
tray-in-call = { $count ->
    [one] Dans l'appel de { $room } ({ $count } personne)
   *[other] Dans l'appel de { $room } ({ $count } personnes)
}
tray-in-call-muted = micro coupé
tray-in-call-speaking = { $count ->
    [one] parle : { $names }
   *[other] parlent : { $names }
}
tray-start-daemon = Démarrer le service
tray-stop-daemon = Arrêter le service
tray-quit = Quitter
tray-join-with-code = Rejoindre avec un code…
tray-no-rooms = Pas encore de salon : créez-en un dans la fenêtre d'apero, ou rejoignez celui d'un ami avec son code
tray-room = { $room } ({ $online }/{ $members } en ligne)
tray-room-in-call = { $room } ({ $online }/{ $members } en ligne) — dans l'appel
tray-room-call = { $room } ({ $online }/{ $members } en ligne) — { $count } dans l'appel
tray-join-call = Rejoindre l'appel
tray-leave-call = Quitter l'appel
tray-copy-invite = Copier le code d'invitation
tray-copy-short-code = Copier le code court
tray-open-chat = Ouvrir la discussion
tray-notifications = Notifications
tray-mute = Couper le micro
tray-unmute = Rétablir le micro
tray-someone = quelqu'un
tray-message = { $who } dans { $room }
tray-file = { $who } a proposé un fichier dans { $room }
tray-file-body = { $name } ({ $size }) — `apero get { $id }`
tray-joined-call = { $count ->
    [one] { $names } a rejoint l'appel
   *[other] { $names } ont rejoint l'appel
}
tray-joined-call-body = dans { $room }
tray-devices-back = Votre micro et votre haut-parleur fonctionnent à nouveau
tray-devices-back-body = L'appel continue avec le son.
tray-mic-lost = Votre micro ne fonctionne pas
tray-mic-lost-body = L'appel continue : les autres ne vous entendent pas. { $error }
tray-speaker-lost = Votre haut-parleur ne fonctionne pas
tray-speaker-lost-body = L'appel continue, mais vous n'entendez personne. { $error }
tray-sound-lost = Pas de son : ni le micro ni le haut-parleur ne fonctionnent
tray-sound-lost-body = L'appel continue en silence. { $error }
tray-missed = { $count ->
    [one] { $count } nouveauté pendant l'absence d'apero, dans { $rooms }
   *[other] { $count } nouveautés pendant l'absence d'apero, dans { $rooms }
}
tray-missed-message = { $who } : { $text }
tray-missed-file = { $who } a proposé { $name }
tray-missed-more = { $count ->
    [one] …et { $count } autre
   *[other] …et { $count } autres
}
tray-daemon-not-started = Le service d'apero n'a pas démarré
tray-offline-note = apero est hors ligne
tray-offline-note-body = Démarrez d'abord le service depuis ce menu.
tray-not-in-call = Pas d'appel en cours
tray-not-in-call-body = Le raccourci du micro fonctionne pendant un appel.
tray-invite-copied = Le code d'invitation de { $room } est copié
tray-invite-not-copied = Impossible de copier le code d'invitation de { $room }
tray-invite-hint = valable 24 heures ; votre ami lance `apero join CODE`
tray-short-code-copied = Le code court de { $room } est copié
tray-short-code-not-copied = Impossible de copier le code court de { $room }
tray-short-code-hint = pour une personne, valable 10 minutes
tray-copy-failed-body = { $error }. Le code : { $code }
tray-cannot-open-chat = Impossible d'ouvrir la discussion
tray-cannot-open-window = Impossible d'ouvrir la fenêtre d'apero
tray-cannot-save = Impossible d'enregistrer les réglages de l'icône
tray-failed-join-call = Impossible de rejoindre l'appel
tray-failed-leave-call = Impossible de quitter l'appel
tray-failed-mute = Impossible de couper le micro
tray-failed-unmute = Impossible de rétablir le micro
tray-failed-toggle-mute = Impossible de couper ou de rétablir le micro
tray-failed-invite = Impossible de créer un code d'invitation
tray-failed-short-code = Impossible de créer un code court
tray-failed-open-chat = Impossible d'ouvrir la discussion
tray-failed-join-dialog = Impossible d'ouvrir la fenêtre pour rejoindre avec un code
tray-failed-notifications = Impossible de changer les notifications
tray-failed-start-daemon = Impossible de démarrer le service
tray-failed-stop-daemon = Impossible d'arrêter le service
tray-failed-quit = Impossible de quitter

# Fermer la fenêtre pendant un appel
close-title = Vous êtes encore dans un appel
close-explain = Si vous fermez la fenêtre, les autres vous entendent toujours. Quittez l'appel, ou continuez à parler fenêtre fermée (l'icône d'apero dans le tableau de bord montre l'appel, avec couper le micro et quitter).
close-remember = Se souvenir de mon choix
close-leave = Quitter l'appel et fermer
close-keep = Continuer à parler en arrière-plan
close-no-tray = L'icône de l'appel n'a pas pu démarrer ({ $error }) : la fenêtre reste ouverte pour que vous voyiez l'appel.
settings-close-in-call = Fermer la fenêtre pendant un appel
settings-close-ask = Me demander
settings-close-leave = Quitter l'appel
settings-close-keep = Continuer à parler en arrière-plan
call-live = Votre micro est ouvert
chat-new-messages = ↓ Nouveaux messages
file-offered-you = Vous avez partagé un fichier
file-stay = Laissez le fichier où il est : vos amis le téléchargent depuis votre ordinateur tant qu'apero tourne.
file-open = Ouvrir
file-open-failed = Rien n'a pu ouvrir { $path }. Ouvrez-le depuis votre gestionnaire de fichiers.
file-saved-to = Enregistré dans { $path }
settings-download-dir = Les téléchargements vont dans
settings-download-default = Votre dossier Téléchargements
settings-download-bad = Tapez le chemin complet d'un dossier, par exemple /home/vous/Documents.
sound-meter-silent = Aucun son
sound-meter-quiet = Faible
sound-meter-good = Bon
sound-meter-loud = Trop fort
people-title = Personnes ({ $online }/{ $members })
people-in-call = dans l'appel
people-offline = hors ligne
people-mute-for-me = Couper pour moi
people-unmute-for-me = Rétablir pour moi
people-copy-name = Copier son nom
picture-open = Cliquez pour l'agrandir
picture-of = Image : { $name }
picture-failed = Cette image ne peut pas être affichée ici : { $error }
settings-auto-pictures = Télécharger les images d'elles-mêmes jusqu'à
chat-edited = (modifié)
chat-reply-gone = un message qui n'est plus là
chat-reply = Répondre
chat-react = Réagir
chat-edit = Modifier
chat-delete = Supprimer pour tout le monde
chat-copy = Copier le texte
chat-replying = Réponse à { $name } : { $text }
chat-editing = Modification de votre message (Entrée l'enregistre pour tous)
chat-save = Enregistrer
share-screen = Partager mon écran
share-stop = Arrêter le partage
share-you-screen = Vous partagez votre écran
share-you-camera = Votre caméra est allumée
share-nobody-yet = personne ne le voit encore
share-seen-by = vu par { $names }
share-pick-help = Choisissez ce que vos amis dans l'appel verront. Rien n'est montré avant votre choix.
share-test = Une mire animée (pour vérifier que vos amis la reçoivent)
share-none = Aucun écran ni aucune fenêtre à partager n'a été trouvé.
share-screen-of = Écran de { $name }
share-waiting = En attente de la première image de { $name }…
share-fit = Ajuster
share-actual = 1:1
share-full = Toute la fenêtre
share-self-view = Ce que vous partagez
camera-start = Allumer ma caméra
camera-stop = Éteindre ma caméra
camera-pick-help = Choisissez une caméra. Vos amis dans l'appel la voient jusqu'à ce que vous l'éteigniez.
camera-test = Une caméra de test (une mire animée)
camera-none = Aucune caméra n'a été trouvée.
camera-of = Caméra de { $name }
tray-sharing-screen = écran partagé
tray-sharing-camera = caméra allumée
tray-stop-sharing = Arrêter le partage (écran et caméra)
tray-failed-stop-sharing = Impossible d'arrêter le partage
camera-preview-help = Vous seul voyez cette image. Vérifiez votre caméra, puis allumez-la pour l'appel.
camera-go = L'allumer pour tout le monde
share-you-preview = Aperçu de la caméra : vous seul le voyez

# Canaux, hôtes et sous-groupes (ui/channels.rs, ui/breakout.rs)
channels = Canaux
channel-new = Nouveau canal
channel-go = Canal { $name }
channel-chat = Messages de { $name }
channel-empty = personne
channel-host = hôte
channel-person = { $name } dans { $channel }
channel-rename = Renommer le canal
channel-rename-confirm = Renommer
channel-delete = Supprimer le canal
channel-name = Nom du canal
channel-create = Créer
channel-move-to = Déplacer vers { $channel }
channel-mute = Couper le micro de { $name }
channel-make-host = Nommer hôte
channel-unhost = Retirer le rôle d'hôte
channel-remove = Retirer du salon
channel-remove-confirm = Retirer { $name } de { $room } ? Cette personne ne recevra plus ses messages, ne pourra plus rejoindre son appel, et ses codes d'invitation ne marcheront plus.
chat-broadcast = à tous les groupes
notice-moved = { $by } vous a déplacé vers { $channel } dans { $room }
notice-muted = { $by } a coupé votre micro dans { $room }. Réactivez-le quand vous voulez parler.
notice-help = { $name } demande de l'aide dans { $channel } ({ $room })
notice-ending = Les groupes de { $room } se terminent dans { $seconds } secondes
notice-broadcast = À tous les groupes de { $room } : { $text }
notice-removed = { $by } vous a retiré de { $room }
breakout-open = Sous-groupes…
breakout-title = Sous-groupes
breakout-groups = Nombre de groupes
breakout-timed = Fin automatique
breakout-minutes = Minutes
breakout-preview = Qui irait où
breakout-nobody = Personne d'autre n'est encore dans l'appel.
breakout-group = Groupe { $n }
breakout-random = Les groupes sont tirés au sort au départ. Vous restez où vous êtes et pouvez passer dans chaque groupe.
breakout-start = Lancer
breakout-running = { $count ->
    [one] 1 groupe
   *[other] { $count } groupes
}
breakout-left = { $group } · encore { $time }
breakout-help = Demander de l'aide
breakout-broadcast = Message à tous
breakout-broadcast-text = Message à tous les groupes
breakout-broadcast-send = Envoyer à tous les groupes
breakout-end = Terminer les sous-groupes
tray-moved = { $by } vous a déplacé vers { $channel }
tray-moved-body = dans l'appel de { $room }
tray-muted-by-host = { $by } a coupé votre micro
tray-muted-by-host-body = dans l'appel de { $room }. Réactivez-le quand vous voulez parler.
tray-help-asked = { $name } demande de l'aide
tray-help-asked-body = dans { $channel } ({ $room })
tray-breakout-ending = Les groupes de { $room } se terminent dans une minute
tray-breakout-ending-body = Tout le monde revient dans { $seconds } secondes.
tray-broadcast = À tous les groupes de { $room }
tray-removed = Vous avez été retiré de { $room }
tray-removed-body = par { $by }
